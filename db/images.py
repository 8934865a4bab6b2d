"""The image store: PNG bytes keyed by sha256, stored once, written in the caller's transaction."""
from __future__ import annotations

import hashlib
import io

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

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


def put_png(session: Session, png: bytes) -> str:
    """Store PNG bytes (if new) and return their sha256. Does not commit."""
    try:
        with PILImage.open(io.BytesIO(png)) as probe:
            if probe.format != "PNG":
                raise BadImage(f"not a PNG image ({probe.format})")
            width, height = probe.size
    except (OSError, SyntaxError) as exc:
        raise BadImage(f"not a readable PNG image: {exc}") from exc
    sha = sha256_of(png)
    row = {"sha256": sha, "png": png, "width": width, "height": height, "created_at": utcnow()}
    session.execute(conflict_insert(session, Image).values(**row).on_conflict_do_nothing(index_elements=["sha256"]))
    return sha


def put_image(session: Session, image: PILImage.Image) -> str:
    return put_png(session, to_png_bytes(image))


def get_png(session: Session, sha256: str) -> bytes:
    png = session.scalar(select(Image.png).where(Image.sha256 == sha256))
    if png is None:
        raise NotFound(f"image {sha256[:12]}… not found")
    return png


def get_image(session: Session, sha256: str) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(get_png(session, sha256)))
    image.load()
    return image
