"""Masks: the review queue (contour fallbacks and low-confidence masks first). Fix a mask with a
click (adds or removes the connected colour region under it), a brush, or the contour method's
parameters; accept it as a manual mask (A: accept and next) or reject the sample (X)."""
from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from db.errors import EmojichError
from db.masks import accept_manual_mask, count_review_queue, list_review_queue, reject_sample_mask
from training.segmentation.contour import ContourParams, contour_mask
from workbench.app import mask_edit
from workbench.app.app_pages import shared
from workbench.app.components.brush import brush_strokes
from workbench.app.components.image_click import clicked_pixel
from workbench.app.plain_text import prompt_heading

VIEW = 256  # shown size of the four previews
EDIT = 384  # shown size of the click and brush surfaces

queue_query = shared.query(list_review_queue)
count_query = shared.query(count_review_queue)
S = st.session_state
S.setdefault("masks.skipped", [])
S.setdefault("masks.work", {})  # sample id → the mask being edited (uint8 array)
S.setdefault("masks.brush_round", 0)
S.setdefault("masks.edits", {})  # sample id → edits made to its mask so far
S.setdefault("masks.tokens", {})  # sample id → the opaque token its widgets and images go by in the browser


def _enlarge(image: Image.Image, size: int) -> Image.Image:
    return image.resize((size, size), Image.Resampling.NEAREST)


def _finish(sample_id: int, message: str) -> None:
    S["masks.work"].pop(sample_id, None)
    S["masks.brush_round"] += 1
    shared.flash(message)


def on_accept(sample_id: int) -> None:
    work = S["masks.work"].get(sample_id)
    if work is None:
        return
    try:
        with shared.writing() as session:
            accept_manual_mask(session, sample_id, Image.fromarray(work, "L"), shared.rater().id)
    except EmojichError as exc:
        shared.report(exc)
        return
    _finish(sample_id, "Accepted: stored as a manual mask for the next U-Net round.")


def on_reject(sample_id: int) -> None:
    try:
        with shared.writing() as session:
            reject_sample_mask(session, sample_id, shared.rater().id)
    except EmojichError as exc:
        shared.report(exc)
        return
    _finish(sample_id, "Rejected: the sample is marked unusable and leaves the queue.")


def on_skip(sample_id: int) -> None:
    S["masks.skipped"].append(sample_id)
    S["masks.brush_round"] += 1


rater = shared.rater()
st.title("Masks")
queue = [item for item in queue_query(50) if item.sample_id not in S["masks.skipped"]]
st.caption(f"{count_query()} sample(s) need review; U-Net masks follow for spot checks. "
           "Keys: **A** accept and next · **X** reject · **N** skip")
if not queue:
    st.success("The review queue is empty.")
    st.stop()
item = queue[0]
sid = item.sample_id
token = S["masks.tokens"].setdefault(sid, shared.view_token())
rgb_image = shared.pil(item.image_sha256).convert("RGB")
rgb = mask_edit.as_rgb(rgb_image)
if sid not in S["masks.work"]:
    S["masks.work"][sid] = mask_edit.as_mask(shared.pil(item.mask_sha256))
confidence = "" if item.confidence_mean is None else f" · confidence {item.confidence_mean:.2f} (object {item.confidence_object or 0:.2f})"
prompt_heading(item.prompt, size_rem=1.2)
st.caption(f"suggestion from **{item.source}**{confidence}")

with st.sidebar.expander("Contour method", expanded=item.source == "contour"):
    params = ContourParams(
        white_threshold=st.slider("white threshold", 200, 255, 242, key="masks.white"),
        close_radius=st.slider("close gaps (px)", 0, 5, 1, key="masks.close"),
        min_area_share=st.slider("smallest part (share)", 0.0, 0.05, 0.0005, step=0.0005, format="%.4f", key="masks.min_area"),
        smooth_radius=st.slider("smooth (px)", 0, 3, 0, key="masks.smooth"),
    )
    if st.button("Replace mask with contour result", key="masks.contour"):
        S["masks.work"][sid] = np.where(contour_mask(rgb, params), 255, 0).astype(np.uint8)
        S["masks.edits"][sid] = S["masks.edits"].get(sid, 0) + 1

work = S["masks.work"][sid]
edits = S["masks.edits"].get(sid, 0)
st.caption(f"Foreground {int((work >= 128).sum())} of {work.size} px · {edits} edit{'s' if edits != 1 else ''} so far")
views = (("image", rgb_image), ("mask", Image.fromarray(work, "L")), ("overlay", mask_edit.overlay(rgb, work)),
         ("cut-out", mask_edit.on_checkerboard(rgb, work)))
for column, (caption, image) in zip(st.columns(4), views, strict=True):
    column.image(shared.blind_pil(_enlarge(image, VIEW), f"{token}.{caption}"), caption=caption, width="stretch",
                 output_format="PNG")

click_col, brush_col = st.columns(2, gap="large")
size = (rgb.shape[1], rgb.shape[0])
with click_col:
    st.markdown("**Click** a region to add or remove it")
    mode = st.radio("click mode", ["toggle", "add", "remove"], horizontal=True, key="masks.mode", label_visibility="collapsed")
    tolerance = st.slider("colour tolerance", 0, 128, 24, key="masks.tolerance")
    click = clicked_pixel(_enlarge(mask_edit.overlay(rgb, work), EDIT), size, key=f"masks.click.{token}")
    if click is not None:
        S["masks.work"][sid] = mask_edit.click_edit(work, rgb, click.x, click.y, mode, tolerance)
        S["masks.edits"][sid] = edits + 1
        st.rerun()
with brush_col:
    st.markdown("**Brush** over the image, then apply")
    brush_mode = st.radio("brush mode", ["add", "remove"], horizontal=True, key="masks.brush_mode", label_visibility="collapsed")
    width = st.slider("brush width", 2, 60, 16, key="masks.brush_width")
    colour = "rgba(0, 200, 80, 0.6)" if brush_mode == "add" else "rgba(255, 0, 120, 0.6)"
    painted = brush_strokes(_enlarge(mask_edit.overlay(rgb, work), EDIT), size, width, colour, key=f"masks.brush.{token}-r{S['masks.brush_round']}")
    if st.button("Apply brush strokes", key="masks.apply", disabled=not painted.any()):
        S["masks.work"][sid] = mask_edit.brush_edit(work, painted, brush_mode)
        S["masks.edits"][sid] = edits + 1
        S["masks.brush_round"] += 1
        st.rerun()

accept, reject, skip, reset = st.columns(4)
accept.button("Accept and next", key="masks.accept", type="primary", shortcut="A", on_click=on_accept, args=(sid,), width="stretch")
reject.button("Reject sample", key="masks.reject", shortcut="X", on_click=on_reject, args=(sid,), width="stretch")
skip.button("Skip", key="masks.skip", shortcut="N", on_click=on_skip, args=(sid,), width="stretch")
if reset.button("Reset to suggestion", key="masks.reset", width="stretch"):
    S["masks.work"].pop(sid, None)
    S["masks.edits"].pop(sid, None)
    st.rerun()
