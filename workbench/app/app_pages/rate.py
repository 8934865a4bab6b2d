"""Rate: the next unrated sample for this rater, blind, scored 1–5 on three criteria by keyboard.

Keys: three digits 1–5 (generality, emoji style, quality) save the image's rating and show the
next one: 3 keystrokes per image, collected in the browser (components/score_keys.py). Esc clears
digits typed so far. S skips, B re-opens the previous image to change its scores (the same rating
row is edited), U undoes the previous rating (deletes it, shows it again). With the mouse, the
1–5 buttons score the ▶ criterion and move to the next.
"""
from __future__ import annotations

import streamlit as st

from db.errors import EmojichError, SampleNotFound
from db.models import SCORE_COLUMNS
from db.ratings import (
    Scores,
    delete_rating,
    get_scores,
    last_rated_sample_id,
    next_item,
    rate_item,
    rating_progress,
    save_rating,
)
from workbench.app.app_pages import shared
from workbench.app.components.score_keys import score_keys, typed_scores

CRITERIA = {
    "generality": ("Generality", "Shows the prompt's idea in a general, simplified form, not one specific scene."),
    "emoji_style": ("Emoji style", "Looks like an emoji: flat bold shapes, clear outline, plain background."),
    "quality": ("Quality", "Smooth and clean: no noise, glitches, broken or smeared parts."),
}
LEVELS = {1: "poor", 2: "weak", 3: "fair", 4: "good", 5: "great"}

progress_query = shared.query(rating_progress)
next_query = shared.query(next_item)
item_query = shared.query(rate_item)
scores_query = shared.query(get_scores)

S = st.session_state
S.setdefault("rate.scores", {})
S.setdefault("rate.skipped", [])
S.setdefault("rate.history", [])
S.setdefault("rate.pinned", None)


def _reset_scores() -> None:
    S["rate.scores"] = {}


def current_item():
    """The image being rated: the one gone back to, else the next unrated one. Callbacks ask
    this too, so a key pressed while the page is still redrawing scores the right image."""
    rater_id = shared.rater().id
    if S["rate.pinned"] is not None:
        item = item_query(S["rate.pinned"])
        if item is not None:
            return item
        shared.flash("The image you went back to was deleted meanwhile.", "warning")
        S["rate.pinned"] = None
    return next_query(rater_id, tuple(S["rate.skipped"]))


def _scores_for(sample_id: int) -> dict[str, int]:
    if S.get("rate.scores_for") != sample_id:
        S["rate.scores_for"] = sample_id
        _reset_scores()
    return S["rate.scores"]


def on_key(value: int) -> None:
    """A score for the ▶ criterion (the first without one); the third saves the rating."""
    item = current_item()
    if item is None:
        return
    scores = _scores_for(item.sample_id)
    pending = [c for c in SCORE_COLUMNS if c not in scores]
    scores[pending[0]] = value
    if len(pending) == 1:
        save(item.sample_id)


def save(sample_id: int) -> None:
    rater = shared.rater()
    scores = Scores(**S["rate.scores"])
    _reset_scores()
    try:
        with shared.writing() as session:
            saved = save_rating(session, rater.id, sample_id, scores)
    except SampleNotFound as exc:
        S["rate.pinned"] = None
        shared.flash(f"{exc}. Here is the next one.", "warning")
        shared.clear_queries()
        return
    except EmojichError as exc:
        shared.report(exc)
        return
    S["rate.pinned"] = None
    if sample_id in S["rate.history"]:
        S["rate.history"].remove(sample_id)
    S["rate.history"].append(sample_id)
    verb = "Saved" if saved.created else "Updated your earlier rating"
    shared.flash(f"{verb}: generality {scores.generality}, emoji style {scores.emoji_style}, quality {scores.quality}.")


def on_typed() -> None:
    """Three digits typed for one image (the score_keys component): save them for that image."""
    typed = typed_scores("rate.keys")
    if typed is None:
        return
    sample_id, (g, e, q) = typed
    item = current_item()
    if item is None or item.sample_id != sample_id:
        shared.flash("Those keys were typed for an image that is no longer shown, so they were ignored.", "warning")
        return
    S["rate.scores"] = {"generality": g, "emoji_style": e, "quality": q}
    S["rate.scores_for"] = sample_id
    save(sample_id)


def on_clear() -> None:
    _reset_scores()


def on_skip() -> None:
    item = current_item()
    if item is not None and item.sample_id not in S["rate.skipped"]:
        S["rate.skipped"].append(item.sample_id)
    S["rate.pinned"] = None
    _reset_scores()


def _previous_sample_id(rater_id: int) -> int | None:
    if S["rate.history"]:
        return S["rate.history"][-1]
    with shared.reading() as session:
        return last_rated_sample_id(session, rater_id)


def on_back() -> None:
    previous = _previous_sample_id(shared.rater().id)
    if previous is None:
        shared.flash("Nothing rated yet, so there is nothing to go back to.", "info")
        return
    S["rate.pinned"] = previous
    _reset_scores()
    shared.flash("Showing your previous image: score it again to change your rating (the same row is updated).", "info")


def on_undo() -> None:
    rater = shared.rater()
    previous = _previous_sample_id(rater.id)
    if previous is None:
        shared.flash("Nothing to undo.", "info")
        return
    with shared.writing() as session:
        deleted = delete_rating(session, rater.id, previous)
    if previous in S["rate.history"]:
        S["rate.history"].remove(previous)
    S["rate.pinned"] = previous
    _reset_scores()
    shared.flash("Undone: your rating of this image was removed; rate it again." if deleted
                 else "That rating was already gone.", "info")


def criterion_line(criterion: str, active: bool) -> None:
    title, description = CRITERIA[criterion]
    chosen = S["rate.scores"].get(criterion)
    marker = "▶ " if active else ""
    value = f" — **{chosen}** ({LEVELS[chosen]})" if chosen else ""
    st.markdown(f"**{marker}{title}**{value}  \n:gray[{description}]")


def keypad() -> None:
    # Mouse path: one row of buttons for whichever criterion is next. The keyboard path is the
    # score_keys component (digits collected in the browser, sent three at a time).
    for value, column in zip(range(1, 6), st.columns(5), strict=True):
        column.button(f"{value} · {LEVELS[value]}", key=f"rate.key.{value}",
                      on_click=on_key, args=(value,), width="stretch")


rater = shared.rater()
st.title("Rate")
done, total = progress_query(rater.id)
st.progress(done / total if total else 0.0, text=f"{done} / {total} rated")

item = current_item()
if item is None:
    if S["rate.skipped"]:
        st.success(f"Everything else is rated. You skipped {len(S['rate.skipped'])} image(s).")
        if st.button("Show the skipped images again", key="rate.unskip"):
            S["rate.skipped"] = []
            st.rerun()
    else:
        st.success("All images are rated. Thank you!" if total else "There are no samples to rate yet.")
    shared.rerun_on_new_data()  # a training run's next checkpoint appears here by itself
    st.stop()

_scores_for(item.sample_id)
S["rate.shown"] = item.sample_id
image_col, form_col = st.columns([2, 4], gap="large")
with image_col:
    st.image(shared.image_at(item.image_sha256, 384), width=384)
with form_col:
    st.markdown(f"#### «{item.prompt}»")
    earlier = scores_query(rater.id, item.sample_id)
    if earlier:
        st.caption(f"Your current rating: generality {earlier.generality}, emoji style {earlier.emoji_style}, "
                   f"quality {earlier.quality}. Scoring again replaces it.")
    pending = [c for c in SCORE_COLUMNS if c not in S["rate.scores"]]
    for criterion in SCORE_COLUMNS:
        criterion_line(criterion, active=bool(pending) and criterion == pending[0])
    keypad()
    score_keys(item.sample_id, key="rate.keys", on_scores=on_typed)
    st.caption("Keys: type three digits **1–5** — generality, emoji style, quality — and the third saves · "
               "**Esc** clears typed digits · **S** skip · **B** back to the previous image · **U** undo it")
    clear, skip, back, undo = st.columns(4)
    clear.button("Clear", key="rate.clear", on_click=on_clear, width="stretch")
    skip.button("Skip", key="rate.skip", shortcut="S", on_click=on_skip, width="stretch")
    back.button("Back", key="rate.back", shortcut="B", on_click=on_back, width="stretch")
    undo.button("Undo", key="rate.undo", shortcut="U", on_click=on_undo, width="stretch")
