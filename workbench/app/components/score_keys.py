"""The Rate page's input, collected in the browser: the image, the three criteria, the 1–5 keypad,
Clear / Skip / Back / Undo, and the same by keyboard (digits 1–5, Esc, S, B, U).

Why in the browser, in one place:
- Mouse and keys fill the same three slots, in the order they happen (click 2, type 3 4 → 2/3/4).
- Nothing is lost when typing fast: keys are queued here and sent one command per image (a score
  of three, a skip, back, undo), each with a sequence number, resent until the server answers.
  Keys typed past the third digit wait in the queue and go to the next image once it is on screen.
- Every command carries the opaque token of the view it was made on (never a database id); the
  server refuses a token that is not the image it has on screen.
- The key listener lives only while this component is mounted (the Rate page on screen): it is
  removed, and its queue dropped, when the page goes, and it ignores keys once its element is gone.

The image is sent inline (a data: URL of the PNG at its own size, so it has no file name at all)
and enlarged by the browser to the largest square that fits the window (512 px at 1366×768, up to
800 px), nearest-neighbour when it is enlarged 2× or more. The prompt sits beside it, as text.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

ACTIONS = ("score", "skip", "back", "undo")

_JS = """
const HELP = "Keys: type three digits 1–5 (generality, emoji style, quality) and the third saves · " +
  "Esc clears typed digits · S skip · B back to the previous image · U undo it";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function build(root, st, data) {
  const host = root.querySelector(".rate-input");
  host.replaceChildren();
  const box = el("div", "image-box");
  st.img = el("img", "picture");
  st.img.alt = "the image to rate";
  st.img.addEventListener("load", () => {
    st.img.style.imageRendering = st.img.naturalWidth * 2 <= st.img.clientWidth ? "pixelated" : "auto";
  });
  box.appendChild(st.img);
  const form = el("div", "form");
  st.lines = data.criteria.map((c) => {
    const line = el("div", "criterion");
    const title = el("div", "title");
    const help = el("div", "help", c.description);
    line.append(title, help);
    form.appendChild(line);
    return { title, criterion: c };
  });
  const pad = el("div", "keypad");
  for (let v = 1; v <= 5; v++) {
    const b = el("button", "key", v + " · " + data.levels[v]);
    b.type = "button";
    b.addEventListener("click", () => st.push(v));
    pad.appendChild(b);
  }
  st.typed = el("div", "typed");
  const actions = el("div", "actions");
  for (const [label, action] of [["Clear", "clear"], ["Skip", "skip"], ["Back", "back"], ["Undo", "undo"]]) {
    const b = el("button", "action", label);
    b.type = "button";
    b.addEventListener("click", () => st.push(action));
    actions.appendChild(b);
  }
  st.prompt = el("div", "prompt");
  form.prepend(st.prompt);
  form.append(pad, st.typed, actions, el("div", "help keys", HELP));
  host.append(box, form);
  st.built = true;
}

function render(st) {
  const active = st.waiting === null ? st.slots.length : -1;
  st.lines.forEach((line, i) => {
    const value = st.slots[i];
    line.title.textContent = (i === active ? "▶ " : "") + line.criterion.title +
      (value ? " — " + value + " (" + st.levels[value] + ")" : "");
    line.title.classList.toggle("active", i === active);
  });
  const typed = [0, 1, 2].map((i) => (st.slots[i] === undefined ? "·" : st.slots[i])).join(" ");
  const ahead = st.queue.length ? "  (+" + st.queue.length + " ahead)" : "";
  st.typed.textContent = (st.waiting === null ? "typed: " : "saving: ") + typed + ahead;
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const root = parentElement;
  let st = root.__emojichRate;
  if (!st) {
    st = root.__emojichRate = {
      mount: Math.random().toString(36).slice(2) + Date.now().toString(36),
      seq: 0, queue: [], slots: [], token: null, waiting: null, sent: null, timer: null, listening: false,
    };
    const alive = () => root.isConnected !== false && (!root.host || root.host.isConnected);
    const transmit = () => {
      if (!st.sent || st.waiting !== st.token) return;
      st.send("command", st.sent);
      clearTimeout(st.timer);
      st.timer = setTimeout(transmit, 4000); // no answer yet: the server drops repeats by seq
    };
    const command = (action, scores) => {
      st.seq += 1;
      st.sent = { token: st.token, action: action, scores: scores || null, mount: st.mount, seq: st.seq };
      st.waiting = st.token;
      transmit();
    };
    st.process = () => {
      while (st.waiting === null && st.token !== null && st.queue.length) {
        const a = st.queue.shift();
        if (a === "clear") {
          st.slots = [];
        } else if (typeof a === "number") {
          st.slots.push(a);
          if (st.slots.length === 3) command("score", st.slots.slice());
        } else {
          command(a);
        }
      }
      render(st);
    };
    st.push = (action) => {
      if (!alive()) return st.teardown();
      if (action === "clear") {
        st.queue = st.queue.filter((a) => typeof a !== "number");
        if (st.waiting === null) st.slots = [];
      } else {
        st.queue.push(action);
      }
      st.process();
    };
    st.onKey = (event) => {
      if (!alive()) return st.teardown();
      const target = event.composedPath ? event.composedPath()[0] : event.target;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const action = key >= "1" && key <= "5" ? Number(key)
        : { Escape: "clear", s: "skip", b: "back", u: "undo" }[key];
      if (action === undefined) return;
      event.preventDefault();
      event.stopPropagation();
      st.push(action);
    };
    st.teardown = () => {
      if (st.listening) document.removeEventListener("keydown", st.onKey, true);
      st.listening = false;
      st.queue = [];
      st.slots = [];
      clearTimeout(st.timer);
      st.sent = null;
    };
    st.cleanup = () => {
      // React may also call this while the element stays (a quick re-render): only a removed
      // element loses its listener and queue.
      setTimeout(() => { if (!alive()) st.teardown(); }, 0);
    };
  }
  st.send = setTriggerValue;
  st.levels = data.levels;
  if (!st.built) build(root, st, data);
  if (data.token !== st.token) {
    st.token = data.token;
    st.slots = [];
    st.waiting = null;
    st.sent = null;
    clearTimeout(st.timer);
    st.img.src = data.image;
    st.prompt.textContent = "«" + data.prompt + "»";
  }
  if (!st.listening) {
    document.addEventListener("keydown", st.onKey, true);
    st.listening = true;
  }
  st.process();
  return st.cleanup;
}
"""

_CSS = """
.rate-input { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; font-family: inherit; }
.image-box { flex: 0 1 auto; max-width: 100%; }
.picture { display: block; width: clamp(320px, calc(100vh - 256px), 800px); max-width: 100%; height: auto;
           aspect-ratio: 1 / 1; border: 1px solid rgba(128, 128, 128, 0.35); border-radius: 0.25rem; }
.form { flex: 1 1 18rem; min-width: 16rem; display: flex; flex-direction: column; gap: 0.6rem; }
.prompt { font-size: 1.5rem; font-weight: 600; line-height: 1.3; margin-bottom: 0.4rem; }
.criterion .title { font-weight: 600; }
.criterion .title.active { color: var(--st-primary-color, #ff4b4b); }
.help { opacity: 0.65; font-size: 0.9rem; }
.keypad, .actions { display: flex; gap: 0.4rem; flex-wrap: wrap; }
.keypad button, .actions button { flex: 1 1 0; min-width: 4.5rem; padding: 0.45rem 0.5rem; cursor: pointer;
  border-radius: 0.5rem; border: 1px solid rgba(128, 128, 128, 0.45); background: transparent; color: inherit;
  font: inherit; }
.keypad button:hover, .actions button:hover { border-color: var(--st-primary-color, #ff4b4b); }
.typed { font-family: monospace; opacity: 0.75; }
"""

_component = st.components.v2.component(
    "emojich.rate_input", html='<div class="rate-input"></div>', css=_CSS, js=_JS,
)


def rate_input(*, token: str, image_png: bytes, prompt: str, criteria: list[dict], levels: dict[int, str], key: str,
               on_command: Callable[[], None]) -> None:
    """Show the image and the scoring form for one view; `on_command` runs (as a callback, before
    the page) for every command the browser sends; read it with `read_command(key)`.
    `criteria`: [{"name", "title", "description"}] in slot order."""
    data = {
        "token": token,
        "image": "data:image/png;base64," + base64.b64encode(image_png).decode(),
        "prompt": prompt,  # shown as text (textContent), never as markup
        "criteria": criteria,
        "levels": {str(k): v for k, v in levels.items()},
    }
    _component(key=key, data=data, on_command_change=on_command)


@dataclass(frozen=True)
class Command:
    token: str
    action: str  # score | skip | back | undo
    scores: tuple[int, int, int] | None
    mount: str
    seq: int


def read_command(key: str) -> Command | None:
    """The last command from the browser, if it is well formed (anything else is dropped)."""
    value = st.session_state.get(key) or {}
    event = value.get("command") if hasattr(value, "get") else None
    if not isinstance(event, dict):
        return None
    token, action, mount, seq = event.get("token"), event.get("action"), event.get("mount"), event.get("seq")
    if not (isinstance(token, str) and isinstance(mount, str) and action in ACTIONS):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    scores = event.get("scores")
    if action == "score":
        if not (isinstance(scores, list) and len(scores) == 3
                and all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 5 for s in scores)):
            return None
        scores = tuple(scores)
    else:
        scores = None
    return Command(token, action, scores, mount, seq)
