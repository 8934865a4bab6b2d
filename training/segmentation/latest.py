"""The latest round's U-Net (None before round 1): what `segment predict` and sticker export use."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from db.engine import read_session
from db.home import Home
from db.segmentation import latest_model_path
from training.segmentation.model import LoadedModel, load_model


def latest_model(engine: Engine, home: Path, device: str = "cpu") -> LoadedModel | None:
    with read_session(engine) as session:
        path = latest_model_path(session)
    return load_model(Home.resolve(home).from_stored(path), device) if path else None
