"""Grid: one checkpoint's samples together, blind: each checkpoint goes by a letter (shuffled per
rater, never its step) and its images are shuffled per rater. Score the whole grid on the three
criteria in one go (the report's way; stored apart from per-image ratings), and flag the images
that show artifacts (per image; untick one to undo; a flag never changes a rating)."""
from __future__ import annotations

import streamlit as st

from db.checkpoints import checkpoint_steps
from db.errors import EmojichError
from db.grid_ratings import get_grid_scores, save_grid_rating
from db.models import SCORE_COLUMNS
from db.ratings import Scores, list_grid, set_artifact_flags
from workbench.app.analytics.queue_policy import blind_letters, seed_for, shuffled
from workbench.app.app_pages import shared

COLUMNS = 8
TITLES = {"generality": "Generality", "emoji_style": "Emoji style", "quality": "Quality"}

steps_query = shared.query(checkpoint_steps)
grid_query = shared.query(list_grid)
grid_scores_query = shared.query(get_grid_scores)
S = st.session_state

rater = shared.rater()
run_id = shared.require_rating_run()
st.title("Grid")
st.caption("All images of one grid at once. Score the grid as a whole on the three criteria, and tick the images "
           "that show artifacts (glitches, smears, broken parts). Untick one to take its flag back; your per-image "
           "ratings are never changed here.")
steps = dict(steps_query(run_id))
if not steps:
    st.info("There are no grids yet.")
    st.stop()
letters = blind_letters(list(steps), seed_for("grid", run_id, rater.id))
by_letter = {letter: checkpoint for checkpoint, letter in letters.items()}
names = sorted(by_letter, key=lambda name: (len(name), name))


def _label(letter: str) -> str:
    return f"Grid {letter} · step {steps[by_letter[letter]]}" if rater.is_admin else f"Grid {letter}"


letter = st.selectbox("Grid", names, format_func=_label, key="grid.letter")
checkpoint_id = by_letter[letter]
if S.get("grid.view", (None,))[0] != (run_id, letter):
    tiles = grid_query(checkpoint_id, rater.id)
    S["grid.view"] = ((run_id, letter), {shared.view_token(): t.sample_id for t in tiles})
tokens = S["grid.view"][1]
tiles = {t.sample_id: t for t in grid_query(checkpoint_id, rater.id)}
order = shuffled(sorted(tokens.items(), key=lambda kv: kv[1]), seed_for("tiles", run_id, rater.id, letter))
order = [(token, tiles[sid]) for token, sid in order if sid in tiles]
st.write(f"{len(order)} images · you rated {sum(t.scores is not None for _, t in order)} of them one by one")

earlier = grid_scores_query(rater.id, checkpoint_id)
with st.form(f"grid.score.{letter}", border=True):
    st.markdown("**The whole grid**" + (" · you scored it before; saving replaces it" if earlier else ""))
    chosen = {}
    for criterion, column in zip(SCORE_COLUMNS, st.columns(3), strict=True):
        chosen[criterion] = column.radio(
            TITLES[criterion], [1, 2, 3, 4, 5], horizontal=True, key=f"grid.score.{letter}.{criterion}",
            index=getattr(earlier, criterion) - 1 if earlier else None,
        )
    score_grid = st.form_submit_button("Save grid scores", type="primary")
if score_grid:
    if any(v is None for v in chosen.values()):
        st.error("Score all three criteria for the grid before saving.")
    else:
        try:
            with shared.writing() as session:
                first = save_grid_rating(session, rater.id, checkpoint_id, Scores(**chosen))
        except EmojichError as exc:
            st.error(f"Not saved: {exc}")
        else:
            shared.flash(f"{'Saved' if first else 'Updated'} your scores for grid {letter}.")
            st.rerun()

with st.form(f"grid.flags.{letter}", border=False):
    for start in range(0, len(order), COLUMNS):
        for (token, tile), column in zip(order[start : start + COLUMNS], st.columns(COLUMNS), strict=False):
            with column:
                st.image(shared.blind_image(tile.image_sha256, 128, token), width="stretch", output_format="PNG")
                mine = "not rated" if tile.scores is None else \
                    f"{tile.scores.generality}/{tile.scores.emoji_style}/{tile.scores.quality}"
                st.checkbox(f"artifact · {mine}", value=tile.flagged, key=f"grid.flag.{token}")
    submitted = st.form_submit_button("Save artifact flags")
if submitted:
    flagged = {tile.sample_id for token, tile in order if S.get(f"grid.flag.{token}")}
    with shared.writing() as session:
        added, removed = set_artifact_flags(session, rater.id, checkpoint_id, flagged)
    shared.flash(f"Artifact flags saved: {added} added, {removed} taken back. Ratings are unchanged.")
    st.rerun()
