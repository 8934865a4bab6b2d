"""pytest fixtures for the training area (registered in conftest.py).

- `tiny_models_dir` (session): a YTTM tokenizer and a small rudalle VQGanGumbelVAE trained (briefly) on
  the dataset area's `tiny_dataset_dir`; far smaller than configs/tiny.toml so tests stay fast.
- `train_home` (per test): a home folder whose `datasets/` holds that dataset (symlinked).
- `tiny_train_config(**sections)`: configs/tiny.toml at test scale (2 layers, 4×4 image tokens), pointing
  at those files; keyword sections override further, e.g. `tiny_train_config(train={"epochs": 2})`.
"""
from __future__ import annotations

from pathlib import Path

import pytest

# What the test fixtures change in the shipped configs/smoke.toml: their own dataset and model files.
TEST_DATASET = "tiny-ru"


def _config(models_dir: Path, **sections):
    from training.config import load_config, replace

    config = load_config("smoke")
    merged = {"data": {"dataset": TEST_DATASET}, "model": {"cache_dir": str(models_dir)}}
    for key, values in sections.items():
        merged.setdefault(key, {}).update(values)
    return replace(config, **merged)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory, tiny_dataset_dir) -> Path:
    from training.dalle.data import read_examples
    from training.tiny.tokenizer import train_tokenizer
    from training.tiny.vae import train_vae

    models = tmp_path_factory.mktemp("tiny_models")
    config = _config(models)
    train_tokenizer(read_examples(tiny_dataset_dir, 16).captions, models / "bpe.model", config.tokenizer.vocab_size)
    images = read_examples(tiny_dataset_dir, config.vae.resolution).images
    train_vae(images, config, models / "vae.pt", progress=False)
    return models


@pytest.fixture
def train_home(tmp_path, tiny_dataset_dir) -> Path:
    home = tmp_path / "train_home"
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / tiny_dataset_dir.name).symlink_to(tiny_dataset_dir, target_is_directory=True)
    return home


@pytest.fixture
def tiny_train_config(tiny_models_dir):
    def make(**sections):
        return _config(tiny_models_dir, **sections)

    return make
