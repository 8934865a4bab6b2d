"""Rate: one image at a time from the rater's queue (workbench/app/rating_queue.py), blind, scored
1–5 on three criteria.

Keys or mouse (both collected in the browser, components/score_keys.py): three digits 1–5
(generality, emoji style, quality) save the rating and show the next image. Esc clears typed
digits, S skips (remembered across reloads), B re-opens the previous image to change its scores
(the same rating row is edited), U undoes the previous rating. The browser never gets a sample id:
each view of an image has its own opaque token, and input made for any other view is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from db.engine import read_session
from db.errors import EmojichError, SampleNotFound
from db.models import SCORE_COLUMNS
from db.rating_design import get_design
from db.ratings import (
    Scores,
    add_skip,
    clear_skips,
    delete_rating,
    get_scores,
    last_rated_sample_id,
    queue_snapshot,
    rate_item,
    save_rating,
    save_repeat,
)
from db.reference_examples import list_examples
from workbench.app import rating_queue
from workbench.app.app_pages import shared
from workbench.app.components.score_keys import rate_input, read_command

CRITERIA = {
    "generality": ("Generality", "Shows the prompt's idea in a general, simplified form, not one specific scene."),
    "emoji_style": ("Emoji style", "Looks like an emoji: flat bold shapes, clear outline, plain background."),
    "quality": ("Quality", "Smooth and clean: no noise, glitches, broken or smeared parts."),
}
ANCHORS = {  # what a 1 and a 5 mean, per criterion (the reference strip)
    "generality": ("one particular scene, photo-like detail, or the idea is not there",
                   "the idea as a simple, general symbol anyone would read the same way"),
    "emoji_style": ("a photo, painting or sketch: nothing like an emoji",
                    "flat bold shapes, clean outline, plain background: it could sit on an emoji keyboard"),
    "quality": ("noise, glitches, broken or smeared parts", "smooth and clean, no artifacts anywhere"),
}
LEVELS = {1: "poor", 2: "weak", 3: "fair", 4: "good", 5: "great"}
KEY = "rate.input"

S = st.session_state
S.setdefault("rate.view", None)
S.setdefault("rate.history", [])  # sample ids rated in this session, for Back and Undo
S.setdefault("rate.seen", {})  # browser mount → last command sequence number handled


@dataclass(frozen=True)
class View:
    """The image on screen, server side: the browser knows only `token`."""

    token: str
    sample_id: int
    kind: str  # new | back | repeat (a silent repeat looks exactly like new)
    image_sha256: str
    prompt: str
    run_id: int


def _focus(session, run_id: int) -> frozenset[int]:
    return rating_queue.adaptive_focus(session, run_id)


@st.cache_data(max_entries=64, show_spinner=False)
def _cached_focus(url: str, run_id: int, version: int) -> frozenset[int]:
    # Recomputed once the run has FOCUS_REFRESH more ratings (`version`), by whichever rater gets there first.
    with read_session(shared.engine()) as session:
        return _focus(session, run_id)


def _progress(session, rater_id: int, run_id: int) -> tuple[int, int]:
    return rating_queue.progress(session, rater_id, run_id)


progress_query = shared.query(_progress)
examples_query = shared.query(list_examples)
scores_query = shared.query(get_scores)


def _view_of(sample_id: int, kind: str) -> View | None:
    with shared.reading() as session:
        item = rate_item(session, sample_id)
    if item is None:
        return None
    return View(shared.view_token(), item.sample_id, kind, item.image_sha256, item.prompt, shared.rating_run_id())


def advance(previous: int | None) -> None:
    """Put the next image of the queue on screen (None when nothing is left)."""
    rater, run_id = shared.rater(), shared.rating_run_id()
    if run_id is None:
        S["rate.view"] = None
        return
    with shared.reading() as session:
        if get_design(session, run_id).queue == "adaptive":
            focus = _cached_focus(shared.db_url(), run_id, rating_queue.focus_version(session, run_id))
        else:
            focus = None
        nxt = rating_queue.next_item(session, rater.id, run_id, previous, focus)
    if nxt is None:
        S["rate.view"] = None
    else:
        item = nxt.item
        kind = "repeat" if nxt.kind == "repeat" else "new"
        S["rate.view"] = View(shared.view_token(), item.sample_id, kind, item.image_sha256, item.prompt, run_id)


def _previous_sample_id() -> int | None:
    if S["rate.history"]:
        return S["rate.history"][-1]
    run_id = shared.rating_run_id()
    with shared.reading() as session:
        return last_rated_sample_id(session, shared.rater().id, run_id)


def _refresh(view: View) -> None:
    """The same image under a new token: whatever the browser still holds for the old one is void."""
    S["rate.view"] = View(shared.view_token(), view.sample_id, view.kind, view.image_sha256, view.prompt, view.run_id)


def _score(view: View, scores: Scores) -> None:
    rater = shared.rater()
    text = f"generality {scores.generality}, emoji style {scores.emoji_style}, quality {scores.quality}"
    with shared.writing() as session:
        if view.kind == "repeat":
            save_repeat(session, rater.id, view.sample_id, scores)  # the first rating stays as it was
            verb = "Saved"
        elif view.kind == "new" and get_scores(session, rater.id, view.sample_id) is not None:
            shared.flash("This image was rated meanwhile (in another tab or window); that rating is kept and "
                         "nothing was saved. Here is the next one.", "warning")
            return
        else:
            saved = save_rating(session, rater.id, view.sample_id, scores)
            verb = "Saved" if saved.created else "Updated your earlier rating"
    if view.sample_id in S["rate.history"]:
        S["rate.history"].remove(view.sample_id)
    if view.kind != "repeat":
        S["rate.history"].append(view.sample_id)
    shared.flash(f"{verb}: {text}.", toast=True)


def on_command() -> None:
    """One command from the browser (components/score_keys.py), for the view it names."""
    command = read_command(KEY)
    if command is None:
        return
    if S["rate.seen"].get(command.mount, 0) >= command.seq:
        return  # a resend of a command already handled
    S["rate.seen"][command.mount] = command.seq
    view: View | None = S["rate.view"]
    if view is None or command.token != view.token:
        shared.flash("That input was made for an image that is no longer on screen, so it was ignored.", "warning")
        if view is not None:
            _refresh(view)
        return
    try:
        if command.action == "score":
            _score(view, Scores(*command.scores))
            advance(view.sample_id)
        elif command.action == "skip":
            if view.kind != "back":
                with shared.writing() as session:
                    add_skip(session, shared.rater().id, view.sample_id)
            advance(view.sample_id)
        elif command.action == "back":
            on_back(view)
        elif command.action == "undo":
            on_undo(view)
    except SampleNotFound as exc:
        shared.flash(f"{exc}. Here is the next one.", "warning")
        shared.clear_queries()
        advance(None)
    except EmojichError as exc:
        shared.report(exc)
        _refresh(view)


def on_back(view: View) -> None:
    previous = _previous_sample_id()
    if previous is None or previous == view.sample_id and view.kind == "back":
        shared.flash("Nothing rated before this, so there is nothing to go back to.", "info")
        _refresh(view)
        return
    back = _view_of(previous, "back")
    if back is None:
        shared.flash("The image you went back to was deleted meanwhile.", "warning")
        _refresh(view)
        return
    S["rate.view"] = back
    shared.flash("Showing your previous image: score it again to change your rating (the same row is updated).", "info",
                 toast=True)


def on_undo(view: View) -> None:
    previous = _previous_sample_id()
    if previous is None:
        shared.flash("Nothing to undo.", "info")
        _refresh(view)
        return
    try:
        with shared.writing() as session:
            deleted = delete_rating(session, shared.rater().id, previous)
    except EmojichError as exc:
        shared.report(exc)
        return
    if previous in S["rate.history"]:
        S["rate.history"].remove(previous)
    S["rate.view"] = _view_of(previous, "new")
    if S["rate.view"] is None:
        advance(None)
    shared.flash("Undone: your rating of this image was removed; rate it again." if deleted
                 else "That rating was already gone.", "info", toast=True)


def on_unskip() -> None:
    with shared.writing() as session:
        clear_skips(session, shared.rater().id, shared.rating_run_id())
    advance(None)


def reference_strip(token: str) -> None:
    """What a 1 and a 5 look like, per criterion: one click away."""
    examples = examples_query()
    with st.popover("What 1 and 5 mean", width="content"):
        for criterion in SCORE_COLUMNS:
            title, _ = CRITERIA[criterion]
            st.markdown(f"**{title}**")
            for level, column in zip((1, 5), st.columns(2), strict=True):
                anchor = ANCHORS[criterion][0 if level == 1 else 1]
                column.caption(f"**{level}** · {LEVELS[level]}: {anchor}")
                shown = [e for e in examples if e.criterion == criterion and e.level == level][:4]
                if shown:
                    column.image([shared.blind_image(e.image_sha256, 96, f"{token}.{e.id}") for e in shown],
                                 width=96, output_format="PNG")


rater = shared.rater()
run_id = shared.require_rating_run()
if S["rate.view"] is None or S["rate.view"].run_id != run_id:
    advance(None)
view: View | None = S["rate.view"]
title, strip = st.columns([4, 1], vertical_alignment="bottom")
title.title("Rate")
done, left = progress_query(rater.id, run_id)
st.progress(done / (done + left) if done + left else 1.0, text=f"{done} rated · {left} to go")

if view is None:
    with shared.reading() as session:
        skipped = len(queue_snapshot(session, run_id, rater.id).skipped)
    if skipped:
        st.success(f"Everything else is rated. You skipped {skipped} image(s).")
        st.button("Show the skipped images again", key="rate.unskip", on_click=on_unskip)
    else:
        st.success("All images are rated. Thank you!" if done else "There are no samples to rate yet.")
    shared.rerun_on_new_data()  # a training run's next checkpoint appears here by itself
    st.stop()

with strip:
    reference_strip(view.token)
note = st.empty()  # always there, so the component below never changes place (it would be mounted afresh)
if view.kind == "back":
    earlier = scores_query(rater.id, view.sample_id)
    if earlier:
        note.caption(f"Your current rating: generality {earlier.generality}, emoji style {earlier.emoji_style}, "
                     f"quality {earlier.quality}. Scoring again replaces it.")
rate_input(
    token=view.token, image_png=shared.native_png(view.image_sha256), prompt=view.prompt,
    criteria=[{"name": c, "title": CRITERIA[c][0], "description": CRITERIA[c][1]} for c in SCORE_COLUMNS],
    levels=LEVELS, key=KEY, on_command=on_command,
)
