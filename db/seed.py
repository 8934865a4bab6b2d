"""One seed module for fixture data: run → checkpoints → 64 prompts → samples (real PNGs) →
raters → ratings with the report's trend → comparisons → metrics → masks → a little dataset.

Used by tests, the dashboard bench and the demo. The rating trend is designed: emoji style rises
until about 12k iterations, generality falls after about 56k, quality improves early.
Images are drawn with Pillow: early checkpoints are brownish noise, then shapes on white that
look more and more like emoji; late checkpoints converge on the same yellow face (lost generality).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import insert
from sqlalchemy.orm import Session

from db.comparisons import save_comparison
from db.masks import add_mask
from db.models import DatasetItem, Rating, SegmentationRound, utcnow
from db.raters import add_rater
from db.rating_stats import rebuild as rebuild_rating_stats
from db.runs import add_metrics, add_run
from db.samples import NewSample, add_checkpoint_with_samples, ensure_prompt_set, list_prompts

PROMPTS_FILE = Path(__file__).resolve().parent.parent / "configs" / "prompts" / "eval_ru.txt"
STYLE_PLATEAU_STEP = 12_000
GENERALITY_FALL_STEP = 56_000
PALETTE = [(244, 180, 0), (66, 133, 244), (219, 68, 55), (15, 157, 88), (171, 71, 188), (255, 112, 67),
           (0, 172, 193), (124, 179, 66)]


@dataclass
class SeedResult:
    run_id: int
    checkpoint_ids: list[int]
    steps: list[int]
    prompt_ids: list[int]
    sample_ids: list[int]
    raters: dict[str, tuple[int, str]] = field(default_factory=dict)  # name → (id, token)
    admin: tuple[int, str] | None = None
    mask_sample_ids: list[int] = field(default_factory=list)

    def token(self, name: str) -> str:
        return self.raters[name][1]


def eval_prompts(count: int = 64) -> list[str]:
    texts = [line.strip() for line in PROMPTS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    while len(texts) < count:
        texts.append(f"эмодзи {len(texts) + 1}")
    return texts[:count]


# --- designed trends (true means per criterion, 1–5) --------------------------------------------

def true_means(step: int, last_step: int) -> dict[str, float]:
    style = 1.4 + 2.8 * min(1.0, step / STYLE_PLATEAU_STEP) + 0.3 * min(1.0, step / max(last_step, 1))
    fall = max(0.0, (step - GENERALITY_FALL_STEP) / max(last_step - GENERALITY_FALL_STEP, 6000))
    generality = 4.1 - 2.2 * fall
    quality = 1.8 + 2.2 * min(1.0, step / 18_000)
    return {"generality": generality, "emoji_style": style, "quality": quality}


def emoji_style_share(step: int) -> float:
    return min(1.0, step / STYLE_PLATEAU_STEP)


def collapse_share(step: int, last_step: int) -> float:
    return max(0.0, min(1.0, (step - GENERALITY_FALL_STEP) / max(last_step - GENERALITY_FALL_STEP, 6000)))


# --- images -------------------------------------------------------------------------------------

def draw_sample(prompt_index: int, step: int, last_step: int, seed: int, size: int = 64) -> Image.Image:
    """A small picture standing in for a generated sample at this step (deterministic)."""
    rng = random.Random(f"{prompt_index}:{step}:{seed}")
    style = emoji_style_share(step)
    collapse = collapse_share(step, last_step)
    noise = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (size, size, 3))
    brown = np.array([120, 96, 70])
    background = (1 - style) * (0.6 * brown + 0.4 * noise) + style * 255
    image = Image.fromarray(background.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    shape = "face" if rng.random() < collapse else ("circle", "square", "triangle", "diamond", "face")[prompt_index % 5]
    colour = PALETTE[0] if shape == "face" and collapse > 0.5 else PALETTE[prompt_index % len(PALETTE)]
    jitter = int((1 - style) * size * 0.15)
    m = int(size * 0.16) + rng.randint(-jitter, jitter) if jitter else int(size * 0.16)
    box = (m, m, size - m, size - m)
    outline = (40, 40, 40) if style > 0.5 else None
    width = max(1, size // 32)
    if shape in ("circle", "face"):
        draw.ellipse(box, fill=colour, outline=outline, width=width)
    elif shape == "square":
        draw.rounded_rectangle(box, radius=size // 8, fill=colour, outline=outline, width=width)
    elif shape == "triangle":
        draw.polygon([(size / 2, m), (size - m, size - m), (m, size - m)], fill=colour, outline=outline)
    else:
        draw.polygon([(size / 2, m), (size - m, size / 2), (size / 2, size - m), (m, size / 2)], fill=colour, outline=outline)
    if shape == "face":
        eye = max(2, size // 16)
        for ex in (0.38, 0.62):
            draw.ellipse((size * ex - eye / 2, size * 0.4 - eye, size * ex + eye / 2, size * 0.4 + eye), fill=(40, 40, 40))
        draw.arc((size * 0.32, size * 0.4, size * 0.68, size * 0.7), 20, 160, fill=(40, 40, 40), width=width)
    if style < 1:
        image = image.filter(ImageFilter.GaussianBlur(radius=(1 - style) * 1.2))
    return image


def shape_mask(image: Image.Image) -> Image.Image:
    """A reasonable foreground mask for a seeded sample: everything not near-white."""
    rgb = np.asarray(image.convert("RGB")).astype(int)
    return Image.fromarray(np.where(rgb.min(axis=2) < 225, 255, 0).astype(np.uint8), "L")


# --- the seed -----------------------------------------------------------------------------------

def seed_workbench(
    session: Session,
    *,
    run_name: str = "seed-run",
    checkpoints: int = 12,
    step_every: int = 6000,
    prompts: int = 64,
    raters: int = 3,
    admin: bool = True,
    image_size: int = 64,
    rate: bool = True,
    comparisons_per_rater: int = 30,
    metrics: bool = True,
    masks: int = 12,
    dataset_items: int = 40,
    seed: int = 0,
) -> SeedResult:
    """Build the whole chain in the caller's transaction (call inside `write_session`)."""
    rng = random.Random(seed)
    run = add_run(session, run_name, {"seeded": True, "step_every": step_every})
    texts = eval_prompts(prompts)
    prompt_set = ensure_prompt_set(session, f"{run_name}-eval-{prompts}", texts)
    prompt_rows = list_prompts(session, prompt_set.id)
    steps = [i * step_every for i in range(checkpoints)]
    last = steps[-1] if steps else 0
    result = SeedResult(run.id, [], steps, [p.id for p in prompt_rows], [])
    sample_index: list[tuple[int, int, int]] = []  # (sample_id, step, prompt position)
    for step in steps:
        new = [
            NewSample(prompt_id=p.id, seed=42, image=draw_sample(p.position, step, last, 42, image_size),
                      perplexity=round(3.0 - 1.5 * emoji_style_share(step) + rng.random() * 0.2, 3))
            for p in prompt_rows
        ]
        checkpoint = add_checkpoint_with_samples(session, run.id, step, step / 1000.0, f"seed/{run_name}/step-{step}.pt", new)
        result.checkpoint_ids.append(checkpoint.id)
        from db.samples import list_samples

        for sample in list_samples(session, checkpoint.id):
            result.sample_ids.append(sample.id)
            sample_index.append((sample.id, step, sample.prompt.position))
    if admin:
        row, token = add_rater(session, "admin", is_admin=True)
        result.admin = (row.id, token)
        result.raters["admin"] = (row.id, token)
    for r in range(raters):
        row, token = add_rater(session, f"rater{r + 1}")
        result.raters[row.name] = (row.id, token)
    if rate:
        _seed_ratings(session, result, sample_index, last, rng)
    if comparisons_per_rater:
        _seed_comparisons(session, result, comparisons_per_rater, rng)
    if metrics:
        seed_metrics(session, run.id, last, rng)
    if masks:
        result.mask_sample_ids = _seed_masks(session, sample_index[-masks * 2 :], masks, rng)
    if dataset_items:
        _seed_dataset(session, texts, dataset_items)
    session.flush()
    return result


def _seed_ratings(session: Session, result: SeedResult, index, last: int, rng: random.Random) -> None:
    """Every non-admin rater rates every sample: the true mean + rater bias + a per-sample effect
    shared by raters (so they agree) + noise, rounded and clipped to 1–5. One bulk insert."""
    sample_effect = {sid: rng.gauss(0, 0.5) for sid, _, _ in index}
    now = utcnow()
    rows = []
    for name, (rater_id, _) in result.raters.items():
        if name == "admin":
            continue
        bias = rng.gauss(0, 0.25)
        for sample_id, step, _ in index:
            scores = {
                c: int(min(5, max(1, round(m + bias + sample_effect[sample_id] + rng.gauss(0, 0.55)))))
                for c, m in true_means(step, last).items()
            }
            rows.append({"rater_id": rater_id, "sample_id": sample_id, **scores, "created_at": now, "updated_at": now})
    if rows:
        session.execute(insert(Rating), rows)
        rebuild_rating_stats(session, result.checkpoint_ids)  # a bulk insert bypasses db/ratings.py


def _seed_comparisons(session: Session, result: SeedResult, per_rater: int, rng: random.Random) -> None:
    from sqlalchemy import select

    from db.models import Sample

    by_prompt: dict[int, list[tuple[int, int]]] = {}
    for sid, cid, pid in session.execute(
        select(Sample.id, Sample.checkpoint_id, Sample.prompt_id).where(Sample.id.in_(result.sample_ids))
    ):
        by_prompt.setdefault(pid, []).append((sid, cid))
    step_of = dict(zip(result.checkpoint_ids, result.steps, strict=True))
    last = result.steps[-1] if result.steps else 0
    combined = {c: sum(true_means(s, last).values()) for c, s in step_of.items()}
    for name, (rater_id, _) in result.raters.items():
        if name == "admin":
            continue
        for _ in range(per_rater):
            pid = rng.choice(list(by_prompt))
            (sa, ca), (sb, cb) = rng.sample(by_prompt[pid], 2)
            p_left = 1 / (1 + math.exp(-(combined[ca] - combined[cb])))
            draw = rng.random()
            choice = "tie" if abs(combined[ca] - combined[cb]) < 0.3 and draw < 0.3 else ("left" if draw < p_left else "right")
            save_comparison(session, rater_id, sa, sb, choice)


def seed_metrics(session: Session, run_id: int, last_step: int, rng: random.Random, every: int = 100) -> None:
    """Loss falling with noise and a one-cycle LR (15 % warm-up, cosine down), like Figure 3."""
    total = max(last_step, every)
    peak = 1e-4
    for step in range(0, total + 1, every):
        warm = 0.15 * total
        if step < warm:
            lr = peak * (0.04 + 0.96 * step / warm)
        else:
            lr = peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))
        loss = 1.9 + 4.6 * math.exp(-step / 7000) + rng.gauss(0, 0.08)
        add_metrics(session, run_id, step, {"loss": loss, "lr": lr})


def _seed_masks(session: Session, candidates, count: int, rng: random.Random) -> list[int]:
    """Masks that need review: contour fallbacks and low-confidence U-Net predictions, each a bit wrong."""
    from db.images import get_image
    from db.samples import get_sample

    chosen = []
    for i, (sample_id, _, _) in enumerate(candidates[:count]):
        image = get_image(session, get_sample(session, sample_id).image_sha256)
        mask = np.asarray(shape_mask(image)).copy()
        h, w = mask.shape
        if i % 2 == 0:  # a contour fallback that also swallowed a background corner
            mask[: h // 5, : w // 5] = 255
            add_mask(session, Image.fromarray(mask, "L"), source="contour", status="needs_review", sample_id=sample_id)
        else:  # a U-Net prediction that missed a bite of the shape
            mask[h // 3 : h // 2, w // 3 : w // 2] = 0
            add_mask(session, Image.fromarray(mask, "L"), source="unet", status="needs_review", sample_id=sample_id,
                     round=1, confidence_mean=round(0.7 + rng.random() * 0.2, 3),
                     confidence_boundary=round(0.5 + rng.random() * 0.2, 3))
        chosen.append(sample_id)
    if chosen and session.get(SegmentationRound, 1) is None:
        session.add(SegmentationRound(round=1, encoder="seed-tiny", train_size=200, val_size=40, val_iou=0.86,
                                      val_dice=0.92, predicted=len(chosen), share_accepted=0.5, gate="seed"))
    return chosen


def _seed_dataset(session: Session, texts: list[str], count: int) -> None:
    for i in range(count):
        caption = texts[i % len(texts)]
        session.add(DatasetItem(dataset="seed-emoji", file=f"seed/{i:04d}.png", caption=caption, emoji=None,
                                codepoints=None, source="seed", license="CC0 (seeded fixture)",
                                split="val" if i % 10 == 0 else "train", white_share=0.5))
