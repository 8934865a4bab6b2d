"""A figure of a few prompts across a run's checkpoints (rows: prompts, columns: steps), as in the
report's Figure 4. The demo writes it, and README shows the one the demo made."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import Engine

from db.checkpoints import prompt_across_checkpoints, run_prompts
from db.engine import read_session
from db.images import get_image

DEFAULT_PROMPTS = ("улыбается", "флаг япония", "кот", "сердце", "Эйнштейн улыбается", "зима в горах")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


def progress_figure(engine: Engine, run_id: int, prompts: tuple[str, ...] = DEFAULT_PROMPTS,
                    cell: int = 96, label_width: int = 230) -> Image.Image:
    """Rows are the run's prompts that match `prompts` (others fill up to six), columns are checkpoints."""
    with read_session(engine) as s:
        available = run_prompts(s, run_id)
        by_text = {p.text.lower(): p for p in available}
        chosen = [by_text[t.lower()] for t in prompts if t.lower() in by_text]
        chosen += [p for p in available if p not in chosen][: max(0, len(prompts) - len(chosen))]
        rows = [(p.text, prompt_across_checkpoints(s, run_id, p.id)) for p in chosen]
        steps = sorted({tile.step for _, tiles in rows for tile in tiles})
        header = 28
        figure = Image.new("RGB", (label_width + cell * len(steps), header + cell * len(rows)), "white")
        draw = ImageDraw.Draw(figure)
        small, big = _font(14), _font(16)
        for j, step in enumerate(steps):
            draw.text((label_width + j * cell + 6, 6), f"step {step}", fill="black", font=small)
        for i, (text, tiles) in enumerate(rows):
            y = header + i * cell
            draw.text((8, y + cell // 2 - 9), text, fill="black", font=big)
            for tile in tiles:
                j = steps.index(tile.step)
                image = get_image(s, tile.image_sha256).convert("RGB").resize((cell - 6, cell - 6), Image.NEAREST)
                figure.paste(image, (label_width + j * cell + 3, y + 3))
    return figure


def save_progress_figure(engine: Engine, run_id: int, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    progress_figure(engine, run_id).save(path)
    return path
