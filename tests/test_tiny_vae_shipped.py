"""The tiny VAE shipped in training/tiny/shipped/: made by the project's own command, rebuilt bit for bit from the
dataset (checked here at small scale), used by the pipeline only when it matches the config, under 8 MB, and it
decodes real emoji recognisably."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from training.config import load_config, replace
from training.dalle.data import read_examples
from training.tiny import pipeline
from training.tiny import vae as tiny_vae
from training.tiny.model import tiny_files

SHA = re.compile(r"sha256 ([0-9a-f]{64})")


def _build_in_fresh_home(home: Path, out: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("EMOJICH_DB", "EMOJICH_HOME")}
    cli = [sys.executable, "-m", "workbench.cli", "--home", str(home)]
    assert subprocess.run([*cli, "db", "upgrade"], env=env, capture_output=True, timeout=300).returncode == 0
    done = subprocess.run(
        [*cli, "tiny-vae", "--config", "smoke",
         "--set", "vae.steps=4", "--set", "data.build_limit=48", "--out", str(out), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return SHA.search(done.stdout).group(1)


def test_tiny_vae_command_rebuilds_the_same_file_bit_for_bit_from_the_dataset(tmp_path):
    # Two separate homes: each builds its own dataset from the font, then trains the VAE from it.
    first = _build_in_fresh_home(tmp_path / "one", tmp_path / "one.pt")
    second = _build_in_fresh_home(tmp_path / "two", tmp_path / "two.pt")
    assert first == second == hashlib.sha256((tmp_path / "two.pt").read_bytes()).hexdigest()
    recorded = tiny_vae.read_trained_with(tmp_path / "one.pt")
    config = load_config("smoke", ["vae.steps=4", "data.build_limit=48"])
    assert {k: recorded[k] for k in ("vae", "n_embed", "dataset")} == tiny_vae.trained_with(config)
    assert recorded["threads"] == config.train.threads == 1


def test_pipeline_copies_a_shipped_vae_only_when_it_was_made_with_the_same_settings(
    tmp_path, monkeypatch, train_home, tiny_dataset_dir
):
    config = load_config("smoke", ['data.dataset="tiny-ru"', "vae.steps=3"])
    shipped = tmp_path / "shipped"
    pipeline.make_vae_file(train_home, config, shipped / "vae-test.pt", progress=False)
    monkeypatch.setattr(tiny_vae, "SHIPPED_DIR", shipped)

    same = replace(config, vae={"shipped": "vae-test.pt"})
    path = pipeline.train_vae(train_home, same, progress=False)
    assert path == tiny_files(same, train_home)[0]
    assert path.read_bytes() == (shipped / "vae-test.pt").read_bytes()  # copied, not trained

    other = replace(same, vae={"steps": 4}, model={"cache_dir": "models/other"})
    found, why = tiny_vae.shipped_vae(other)
    assert found is None and "steps" in why
    trained = pipeline.train_vae(train_home, other, progress=False)
    assert trained.read_bytes() != (shipped / "vae-test.pt").read_bytes()
    assert tiny_vae.read_trained_with(trained)["vae"]["steps"] == 4


def test_the_shipped_tiny_vae_matches_tiny_toml_is_small_and_decodes_emoji(tiny_dataset_dir):
    config = load_config("tiny")
    path, why = tiny_vae.shipped_vae(config)
    assert path is not None, why
    assert path.stat().st_size < 8 * 1024 * 1024
    recorded = tiny_vae.read_trained_with(path)
    assert recorded["threads"] == config.train.threads and len(recorded["images_sha256"]) == 64
    model = tiny_vae.load_vae(path)
    assert model.num_tokens == config.model.image_vocab_size
    # Emoji it never saw at this exact rendering (the test dataset is built here, at 64 px, read at 32 px).
    images = read_examples(tiny_dataset_dir, config.vae.resolution, split="val").images
    with torch.no_grad():
        codes = model.get_codebook_indices(images, disable_gumbel_softmax=True)
        error = F.l1_loss(tiny_vae.reconstruct(model, images), images).item()
    assert codes.shape == (len(images), config.model.image_tokens_per_dim ** 2)
    assert error < 0.08, f"reconstruction L1 {error:.3f}"
