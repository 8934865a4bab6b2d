"""Noto Color Emoji → square RGBA bitmaps.

The font's only bitmap size is 109 (a 136×128 glyph cell). Pillow lays out multi-codepoint
sequences with raqm, so a supported sequence is one glyph; an emoji the font lacks comes out
empty (no glyph) or wider than one cell (the sequence fell apart into several glyphs) and is
reported as missing.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

NOTO_COLOR_EMOJI = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
NOTO_BITMAP_SIZE = 109


class NotoRenderer:
    """Renders one emoji at a time on a transparent square canvas (one glyph cell, padded)."""

    def __init__(self, font_path: Path = NOTO_COLOR_EMOJI) -> None:
        self.font = ImageFont.truetype(str(font_path), NOTO_BITMAP_SIZE)
        left, top, right, bottom = self.font.getbbox("😀")
        self.cell_width = int(self.font.getlength("😀"))
        self.cell_height = bottom - top
        self.side = max(self.cell_width, self.cell_height)

    def render(self, emoji: str) -> Image.Image | None:
        """A side×side RGBA image of the glyph centred on transparency, or None if the font lacks it."""
        if self.font.getlength(emoji) > self.cell_width * 1.05:
            return None  # several glyphs: the font has no single glyph for this sequence
        canvas = Image.new("RGBA", (self.side, self.side), (0, 0, 0, 0))
        offset = ((self.side - self.cell_width) // 2, (self.side - self.cell_height) // 2)
        ImageDraw.Draw(canvas).text(offset, emoji, font=self.font, embedded_color=True)
        if canvas.getbbox(alpha_only=True) is None:
            return None  # no glyph at all
        return canvas
