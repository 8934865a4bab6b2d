"""The image store: stored once by content, and batches that land whole or not at all."""
from __future__ import annotations

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

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


def test_failure_mid_batch_leaves_no_rows_and_no_images(engine):
    run, prompts = _prompts(engine, 64)
    batch = [NewSample(prompt_id=p, seed=42, image=PILImage.new("RGB", (8, 8), (i, 1, 2))) for i, p in enumerate(prompts)]
    batch[40] = NewSample(prompt_id=max(prompts) + 1000, seed=42, image=PILImage.new("RGB", (8, 8), "white"))  # no such prompt
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            add_checkpoint_with_samples(s, run, 0, 0.0, "ckpt.pt", batch)
    assert _count(engine, Checkpoint) == 0
    assert _count(engine, Sample) == 0
    assert _count(engine, Image) == 0


def test_a_generator_dying_while_encoding_writes_nothing(engine):
    class Exploding:
        width = height = 8

        def save(self, *args, **kwargs):
            raise RuntimeError("generator died mid-batch")

    run, prompts = _prompts(engine, 2)
    with pytest.raises(RuntimeError, match="mid-batch"):
        [NewSample(prompt_id=p, seed=1, image=img) for p, img in zip(prompts, [PILImage.new("RGB", (8, 8)), Exploding()], strict=True)]
    assert _count(engine, Checkpoint) == 0 and _count(engine, Image) == 0


def test_checkpoint_writer_encodes_nothing_inside_its_write_transaction(engine, monkeypatch):
    """64 PNGs encoded while holding SQLite's write lock made every rater's save wait seconds: the
    batch is encoded and hashed when the NewSamples are made, the transaction only inserts rows."""
    run, prompts = _prompts(engine, 64)
    batch = [NewSample(prompt_id=p, seed=7, image=PILImage.new("RGB", (32, 32), (i, 3, 4))) for i, p in enumerate(prompts)]

    def no_encoding(*args, **kwargs):
        raise AssertionError("PNG encoding inside the write transaction")

    with write_session(engine) as s:
        monkeypatch.setattr(PILImage.Image, "save", no_encoding)
        add_checkpoint_with_samples(s, run, 6000, 1.0, "ckpt.pt", batch)
        monkeypatch.undo()
    assert _count(engine, Sample) == 64 and _count(engine, Image) == 64
    with read_session(engine) as s:
        assert get_image(s, batch[5].prepared.sha256).getpixel((0, 0)) == (5, 3, 4)


def test_bad_png_bytes_are_refused(engine):
    with pytest.raises(BadImage):
        with write_session(engine) as s:
            put_png(s, b"\x89PNG not really")
    assert _count(engine, Image) == 0


def test_a_checkpoint_writer_stores_images_in_small_transactions_then_rows_in_one(engine, monkeypatch):
    import db.images
    from db.samples import write_checkpoint_with_samples

    run, prompts = _prompts(engine, 64)
    batch = [NewSample(prompt_id=p, seed=3, image=PILImage.effect_noise((64, 64), 40 + i).convert("RGB"))
             for i, p in enumerate(prompts)]
    per_transaction: list[int] = []
    real = db.images.put_prepared

    def recording(session, images):
        images = [images] if isinstance(images, db.images.PreparedImage) else list(images)
        per_transaction.append(sum(len(i.png) for i in images))
        return real(session, images)

    monkeypatch.setattr(db.images, "put_prepared", recording)
    monkeypatch.setattr(db.images, "IMAGE_CHUNK_BYTES", 20_000)
    biggest = max(len(n.prepared.png) for n in batch)
    checkpoint_id = write_checkpoint_with_samples(engine, run, 6000, 1.0, "ckpt.pt", batch)
    assert len(per_transaction) > 3 and max(per_transaction) <= 20_000 + biggest  # small image transactions
    assert _count(engine, Sample) == 64 and _count(engine, Image) == 64
    with read_session(engine) as s:
        assert s.get(Checkpoint, checkpoint_id).step == 6000

    # interrupted after the images: no sample, no checkpoint, nothing pointing at a missing image
    others = [NewSample(prompt_id=p, seed=4, image=PILImage.new("RGB", (8, 8), (i, 9, 9))) for i, p in enumerate(prompts)]
    monkeypatch.setattr("db.samples.add_checkpoint_with_samples", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint_with_samples(engine, run, 12000, 2.0, "ckpt2.pt", others)
    assert _count(engine, Checkpoint) == 1 and _count(engine, Sample) == 64
