"""The image store: PNG bytes keyed by sha256, stored once, written in the caller's transaction."""
from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image as PILImage
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.engine import write_session
from db.errors import BadImage, NotFound
from db.models import Image, utcnow
from db.upsert import conflict_insert


def to_png_bytes(image: PILImage.Image) -> bytes:
    """Encode deterministically (no metadata), so equal pixels give equal bytes and one row."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PreparedImage:
    """PNG bytes checked, measured and hashed, ready to store: all the slow work done before a
    write transaction takes the lock (64 PNGs encode in seconds on a busy machine)."""

    sha256: str
    png: bytes
    width: int
    height: int


def prepare_png(png: bytes) -> PreparedImage:
    """Check PNG bytes and hash them (no database involved)."""
    try:
        with PILImage.open(io.BytesIO(png)) as probe:
            if probe.format != "PNG":
                raise BadImage(f"not a PNG image ({probe.format})")
            width, height = probe.size
    except (OSError, SyntaxError) as exc:
        raise BadImage(f"not a readable PNG image: {exc}") from exc
    return PreparedImage(sha256_of(png), png, width, height)


def prepare_image(image: PILImage.Image) -> PreparedImage:
    """Encode and hash an image (no database involved)."""
    png = to_png_bytes(image)
    return PreparedImage(sha256_of(png), png, image.width, image.height)


def put_prepared(session: Session, images: PreparedImage | Sequence[PreparedImage]) -> None:
    """Store prepared images that are not stored yet, in one statement. Does not commit."""
    batch = {i.sha256: i for i in ([images] if isinstance(images, PreparedImage) else images)}
    if not batch:
        return
    stored = set(session.scalars(select(Image.sha256).where(Image.sha256.in_(list(batch)))))
    now = utcnow()
    rows = [{"sha256": i.sha256, "png": i.png, "width": i.width, "height": i.height, "created_at": now}
            for sha, i in batch.items() if sha not in stored]  # known ones: not even their bytes are sent
    if rows:
        session.execute(conflict_insert(session, Image).on_conflict_do_nothing(index_elements=["sha256"]), rows)


IMAGE_CHUNK_BYTES = 512 * 1024


def store_images(engine: Engine, images: Sequence[PreparedImage], chunk_bytes: int | None = None) -> None:
    """Store many prepared images in short write transactions of about `chunk_bytes` each, so
    other writers (raters' saves, on SQLite's single writer lock) wait milliseconds, not the
    second 6 MB of PNGs take on a busy machine. Images are content-addressed and unused until a
    row points at them: an interruption here leaves at most some unused images, never a row
    without its image."""
    chunk_bytes = chunk_bytes or IMAGE_CHUNK_BYTES
    chunk: list[PreparedImage] = []
    size = 0
    for image in images:
        chunk.append(image)
        size += len(image.png)
        if size >= chunk_bytes:
            with write_session(engine) as session:
                put_prepared(session, chunk)
            chunk, size = [], 0
    if chunk:
        with write_session(engine) as session:
            put_prepared(session, chunk)


def put_png(session: Session, png: bytes) -> str:
    """Store PNG bytes (if new) and return their sha256. Does not commit."""
    prepared = prepare_png(png)
    put_prepared(session, prepared)
    return prepared.sha256


def put_image(session: Session, image: PILImage.Image) -> str:
    """Encode and store an image (small ones only: encoding happens inside the caller's
    transaction; batches use `prepare_image` first)."""
    prepared = prepare_image(image)
    put_prepared(session, prepared)
    return prepared.sha256


def get_png(session: Session, sha256: str) -> bytes:
    png = session.scalar(select(Image.png).where(Image.sha256 == sha256))
    if png is None:
        raise NotFound(f"image {sha256[:12]}… not found")
    return png


def get_image(session: Session, sha256: str) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(get_png(session, sha256)))
    image.load()
    return image
