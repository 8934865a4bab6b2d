"""A brush over an image (streamlit-drawable-canvas 0.13.0) → the painted pixels at image size."""
from __future__ import annotations

import numpy as np
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from workbench.app.mask_edit import strokes_from_canvas


def brush_strokes(background: Image.Image, source_size: tuple[int, int], stroke_width: int, colour: str, key: str) -> np.ndarray:
    """Free-draw strokes over `background` (shown at its own size); returns a boolean (H, W) array
    at `source_size` of the painted pixels (all False before anything is drawn)."""
    result = st_canvas(
        background_image=background, width=background.width, height=background.height, drawing_mode="freedraw",
        stroke_width=stroke_width, stroke_color=colour, update_streamlit=True, key=key,
    )
    return strokes_from_canvas(result.json_data if result else None, background.size, source_size)
