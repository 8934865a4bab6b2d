"""pytest fixtures for the dataset area (registered in conftest.py).

- `tiny_dataset_dir` (session): a real 51-image dataset folder rendered once from the installed
  Noto Color Emoji font with CLDR Russian captions, at TINY_SIZE px, 10 validation images.
  Treat it as read-only: copy it before changing files. Its home is `tiny_dataset_dir.parents[1]`
  (the folder is `<home>/datasets/tiny-ru`), for code that resolves datasets by home and name.
- `tiny_dataset` (per test): that folder registered into the per-test `engine` (dataset_items rows
  plus ground-truth masks); returns a TinyDataset(name, directory, items).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

TINY_NAME = "tiny-ru"
TINY_SIZE = 64
TINY_VAL_SIZE = 10
# Faces, two skin-tone families (6 images, one caption each), homonym-ish castles and locks,
# near-white emoji (egg, white circle, snowman), flags, ZWJ sequences, and "{" which the font
# lacks (skipped and counted).
TINY_EMOJI = tuple(
    "😀 😃 😂 🙂 😉 😍 😎 🤔 😴 😭 😡 🤯 👍 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 👋 👋🏻 👋🏼 👋🏽 👋🏾 👋🏿 ❤ 💔 🔥 ⭐ ☀ 🌧 ⛄ "
    "🍎 🍕 🥚 🐱 🐶 🦊 🐼 🌲 🌻 🏰 🔒 🏠 🚗 ✈ ⚽ 🎁 ⚪ 🇯🇵 🇷🇺 👨‍👩‍👧 🧑‍💻 {".split()
)
TINY_IMAGES = len(TINY_EMOJI) - 1


@dataclass(frozen=True)
class TinyDataset:
    name: str
    directory: Path
    items: int


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory) -> Path:
    from training.dataset import build_noto_dataset

    home = tmp_path_factory.mktemp("dataset_home")
    report = build_noto_dataset(
        home, name=TINY_NAME, size=TINY_SIZE, val_size=TINY_VAL_SIZE, emoji=TINY_EMOJI, workers=1
    )
    assert report.images == TINY_IMAGES, report.summary()
    return report.directory


@pytest.fixture
def tiny_dataset(engine, tiny_dataset_dir) -> TinyDataset:
    from training.dataset import register_dataset

    added = register_dataset(engine, tiny_dataset_dir)
    return TinyDataset(name=tiny_dataset_dir.name, directory=tiny_dataset_dir, items=added)
