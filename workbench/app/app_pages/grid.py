"""Grid: one checkpoint's samples together (blind: checkpoints are letters, shuffled per rater),
to spot artifacts across the grid. Flagging a rated sample sets its quality to 1."""
from __future__ import annotations

import string

import streamlit as st

from db.errors import EmojichError
from db.ratings import ARTIFACT_COMMENT, blind_checkpoint_order, flag_artifacts, list_grid
from db.samples import get_checkpoint
from workbench.app.app_pages import shared

COLUMNS = 8

order_query = shared.query(blind_checkpoint_order)
grid_query = shared.query(list_grid)


def _label(index: int) -> str:
    letters = string.ascii_uppercase
    return letters[index] if index < 26 else f"{letters[index // 26 - 1]}{letters[index % 26]}"


rater = shared.rater()
st.title("Grid")
st.caption("All samples of one checkpoint at once. Tick the ones with artifacts (glitches, smears, broken parts) "
           "and save: their quality becomes 1. Only images you have rated can be flagged.")
checkpoint_ids = order_query(rater.id)
if not checkpoint_ids:
    st.info("There are no checkpoints yet.")
    st.stop()
labels = {cid: f"Grid {_label(i)}" for i, cid in enumerate(checkpoint_ids)}
if rater.is_admin:
    with shared.reading() as session:
        labels = {cid: f"{labels[cid]} · step {get_checkpoint(session, cid).step}" for cid in checkpoint_ids}
checkpoint_id = st.selectbox("Checkpoint", checkpoint_ids, format_func=labels.get, key="grid.checkpoint")
tiles = grid_query(checkpoint_id, rater.id)
rated = sum(t.scores is not None for t in tiles)
st.write(f"{len(tiles)} samples · you rated {rated}")

with st.form(f"grid.form.{checkpoint_id}", border=False):
    for start in range(0, len(tiles), COLUMNS):
        for tile, column in zip(tiles[start : start + COLUMNS], st.columns(COLUMNS), strict=False):
            with column:
                st.image(shared.image_at(tile.image_sha256, 128), width="stretch")
                if tile.scores is None:
                    st.caption("not rated")
                else:
                    s = tile.scores
                    st.checkbox(f"artifact · {s.generality}/{s.emoji_style}/{s.quality}", value=tile.flagged,
                                key=f"grid.flag.{tile.sample_id}", disabled=tile.flagged)
    submitted = st.form_submit_button("Save artifact flags", type="primary")
if submitted:
    chosen = [t.sample_id for t in tiles if t.scores is not None and not t.flagged and st.session_state.get(f"grid.flag.{t.sample_id}")]
    try:
        with shared.writing() as session:
            count = flag_artifacts(session, rater.id, chosen)
    except EmojichError as exc:
        shared.report(exc)
    else:
        shared.flash(f"Flagged {count} image(s) as showing artifacts (quality set to 1, comment “{ARTIFACT_COMMENT}”).")
    st.rerun()
