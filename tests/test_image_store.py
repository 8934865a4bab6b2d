"""The image store: stored once by content, and batches that land whole or not at all."""
from __future__ import annotations

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from db.engine import read_session, write_session
from db.errors import BadImage
from db.images import get_image, put_image, put_png, sha256_of, to_png_bytes
from db.models import Checkpoint, Image, Sample
from db.runs import add_run
from db.samples import NewSample, add_checkpoint_with_samples, ensure_prompt_set


def _count(engine, model) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def _prompts(engine, n):
    with write_session(engine) as s:
        run = add_run(s, "r", {})
        return run.id, [p.id for p in ensure_prompt_set(s, "eval", [f"p{i}" for i in range(n)]).prompts]


def test_identical_images_are_stored_once(engine):
    red = PILImage.new("RGB", (16, 16), "red")
    with write_session(engine) as s:
        a = put_image(s, red)
        b = put_image(s, red.copy())
        c = put_image(s, PILImage.new("RGB", (16, 16), "blue"))
    assert a == b != c
    assert a == sha256_of(to_png_bytes(red))
    assert _count(engine, Image) == 2
    with read_session(engine) as s:
        back = get_image(s, a)
    assert back.size == (16, 16) and back.getpixel((3, 3)) == (255, 0, 0)


def test_batch_of_64_lands_whole(engine):
    run, prompts = _prompts(engine, 64)
    batch = [NewSample(prompt_id=p, seed=42, image=PILImage.new("RGB", (8, 8), (i, 0, 0))) for i, p in enumerate(prompts)]
    with write_session(engine) as s:
        add_checkpoint_with_samples(s, run, 0, 0.0, "ckpt.pt", batch)
    assert _count(engine, Sample) == 64
    assert _count(engine, Image) == 64


class _ExplodingImage:
    """Stands for a generator that dies half-way through a batch (e.g. a killed job)."""

    def save(self, *args, **kwargs):
        raise RuntimeError("generator died mid-batch")


def test_failure_mid_batch_leaves_no_rows_and_no_images(engine):
    run, prompts = _prompts(engine, 64)
    batch = [NewSample(prompt_id=p, seed=42, image=PILImage.new("RGB", (8, 8), (i, 1, 2))) for i, p in enumerate(prompts)]
    batch[40] = NewSample(prompt_id=prompts[40], seed=42, image=_ExplodingImage())
    with pytest.raises(RuntimeError, match="mid-batch"):
        with write_session(engine) as s:
            add_checkpoint_with_samples(s, run, 0, 0.0, "ckpt.pt", batch)
    assert _count(engine, Checkpoint) == 0
    assert _count(engine, Sample) == 0
    assert _count(engine, Image) == 0


def test_bad_png_bytes_are_refused(engine):
    with pytest.raises(BadImage):
        with write_session(engine) as s:
            put_png(s, b"\x89PNG not really")
    assert _count(engine, Image) == 0
