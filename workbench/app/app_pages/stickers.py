"""Stickers: pick samples (by checkpoint, prompt, score), preview them as RGBA cut-outs, and
export a Telegram-ready set (512 px PNG/WEBP) through the segmentation exporter. Admins only."""
from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from db.checkpoints import checkpoint_steps, run_prompts
from db.errors import EmojichError
from db.stickers import list_sticker_candidates
from workbench.app import mask_edit
from workbench.app.app_pages import shared
from workbench.app.plain_text import escape_markdown

COLUMNS = 8

steps_query = shared.query(checkpoint_steps)
candidates_query = shared.query(list_sticker_candidates)


def _prompts(session, run_id: int) -> list[tuple[int, str]]:
    return [(p.id, p.text) for p in run_prompts(session, run_id)]


prompts_query = shared.query(_prompts)

shared.require_admin()  # labels images by step: not for blind raters
run_id = shared.require_run()
st.title("Stickers")
steps = dict(steps_query(run_id))
prompts = dict(prompts_query(run_id))
f1, f2, f3 = st.columns(3)
checkpoint_id = f1.selectbox("Checkpoint", [None, *steps], format_func=lambda c: "all" if c is None else f"step {steps[c]}",
                             key="stickers.checkpoint")
prompt_id = f2.selectbox("Prompt", [None, *prompts], format_func=lambda p: "all" if p is None else prompts[p], key="stickers.prompt")
min_score = f3.slider("Minimum mean score", 0.0, 5.0, 0.0, 0.25, key="stickers.min_score")
candidates = candidates_query(run_id, checkpoint_id, prompt_id, min_score, 64)
if not candidates:
    st.info("No samples match.")
    st.stop()
st.caption("Cut-outs use a person's accepted mask, else an accepted U-Net mask; samples without one "
           "are segmented by the exporter.")
picked = []
for start in range(0, len(candidates), COLUMNS):
    for cand, column in zip(candidates[start : start + COLUMNS], st.columns(COLUMNS), strict=False):
        with column:
            if cand.mask_sha256:
                rgb = mask_edit.as_rgb(shared.pil(cand.image_sha256))
                mask = mask_edit.as_mask(shared.pil(cand.mask_sha256))
                st.image(mask_edit.on_checkerboard(rgb, mask).resize((128, 128)), width="stretch")
            else:
                st.image(shared.image_at(cand.image_sha256, 128), width="stretch")
            score = "unrated" if cand.score is None else f"score {cand.score:.2f}"
            st.caption(f"step {cand.step} · {score}")
            st.text(cand.prompt)  # the prompt as text, never markdown
            if st.checkbox("pick", key=f"stickers.pick.{cand.sample_id}"):
                picked.append(cand.sample_id)

st.divider()
st.write(f"{len(picked)} sample(s) picked.")
fmt = st.radio("Format", ["png", "webp"], horizontal=True, key="stickers.format")
if st.button("Export sticker set", type="primary", disabled=not picked, key="stickers.export"):
    from training.stickers.export import export_stickers  # loads the U-Net only when exporting

    out = Path(tempfile.mkdtemp(prefix="emojich-stickers-")) / "stickers.zip"
    try:
        with st.spinner("Segmenting and encoding stickers…"), shared.reading() as session:
            report = export_stickers(session, picked, out, fmt=fmt, home=shared.home())
    except EmojichError as exc:
        st.error(f"Export failed: {escape_markdown(str(exc))}")
    else:
        st.session_state["stickers.zip"] = out.read_bytes()
        st.session_state["stickers.report"] = [report.summary(), *report.skipped]
for line in st.session_state.get("stickers.report", []):
    st.text(line)  # may quote prompts
if st.session_state.get("stickers.zip"):
    st.download_button("Download stickers.zip", st.session_state["stickers.zip"], file_name="stickers.zip",
                       mime="application/zip", key="stickers.download")
