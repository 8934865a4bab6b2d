"""A click on an image (streamlit-image-coordinates 0.4.1) → the clicked pixel, once per click."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image
from streamlit_image_coordinates import streamlit_image_coordinates

from workbench.app.mask_edit import scale_point


@dataclass(frozen=True)
class Click:
    x: int  # pixel in the source image
    y: int
    time: int


def clicked_pixel(shown: Image.Image, source_size: tuple[int, int], key: str) -> Click | None:
    """Show `shown` (an enlarged view of an image of `source_size`); return a new click in source
    pixels, or None when there was none since the last call with this key."""
    value = streamlit_image_coordinates(shown, key=key, cursor="crosshair")
    if not value or "x" not in value:
        return None
    seen_key = f"{key}.seen"
    if st.session_state.get(seen_key) == value.get("unix_time"):
        return None
    st.session_state[seen_key] = value.get("unix_time")
    display = (int(value.get("width") or shown.width), int(value.get("height") or shown.height))
    x, y = scale_point(value["x"], value["y"], display, source_size)
    return Click(x, y, int(value.get("unix_time") or 0))
