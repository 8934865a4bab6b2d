"""Keyboard scoring for the Rate page: three digits 1–5 typed anywhere on the page are collected
in the browser and sent together, as one event, with the id of the image they were typed for.

One rerun per image instead of one per key, so fast typing loses nothing and keeps its order
(button shortcuts rerun the app on every key, and keys pressed mid-rerun can be dropped).
Esc clears the digits typed so far. Typing into a text field is left alone.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

_JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const state = (window.__emojichScoreKeys = window.__emojichScoreKeys || { buffer: [], sample: null });
  state.send = setTriggerValue;
  state.root = parentElement.querySelector(".score-keys");
  const show = () => {
    if (!state.root) return;
    const typed = [0, 1, 2].map((i) => (state.buffer[i] === undefined ? "·" : state.buffer[i])).join(" ");
    state.root.textContent = "typed: " + typed;
  };
  const flush = () => {
    if (state.buffer.length >= 3 && state.sample !== null) {
      const scores = state.buffer.slice(0, 3);
      state.buffer = state.buffer.slice(3);
      const sample = state.sample;
      state.sample = null; // the next digits belong to the next image, whose id is not known yet
      state.send("scores", { sample: sample, scores: scores, at: Date.now() });
    }
  };
  if (data.sample !== state.sample) {
    if (state.sample !== null) state.buffer = []; // the image changed under unfinished digits
    state.sample = data.sample;
  }
  if (!state.listening) {
    state.listening = true;
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key >= "1" && event.key <= "5") {
        state.buffer.push(Number(event.key));
        event.preventDefault();
        flush();
        show();
      } else if (event.key === "Escape") {
        state.buffer = [];
        show();
      }
    }, true);
  }
  flush();
  show();
}
"""

_component = st.components.v2.component(
    "emojich.score_keys",
    html='<div class="score-keys"></div>',
    css=".score-keys { font-family: monospace; color: var(--st-text-color, #555); opacity: 0.7; }",
    js=_JS,
)


def score_keys(sample_id: int, key: str, on_scores: Callable[[], None]) -> None:
    """Listen for digit keys while `sample_id` is shown; `on_scores` runs (as a callback, before
    the page) when three have been typed; read them with `typed_scores(key)`."""
    _component(key=key, data={"sample": sample_id}, on_scores_change=on_scores)


def typed_scores(key: str) -> tuple[int, list[int]] | None:
    """(sample id, [generality, emoji style, quality]) from the last event, if it is well formed."""
    value = st.session_state.get(key) or {}
    event = value.get("scores") if hasattr(value, "get") else None
    if not isinstance(event, dict):
        return None
    sample, scores = event.get("sample"), event.get("scores")
    if not isinstance(sample, int) or not isinstance(scores, list) or len(scores) != 3:
        return None
    if not all(isinstance(s, int) and 1 <= s <= 5 for s in scores):
        return None
    return sample, scores
