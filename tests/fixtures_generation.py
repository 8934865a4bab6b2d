"""pytest fixtures for generation from a chosen checkpoint (registered in conftest.py).

- `tiny_checkpoint_file` (session): a checkpoint file of a smoke-scale tiny model (the training area's
  `tiny_train_config`: 2 layers, 4×4 image tokens, the session's tiny tokenizer and VAE), seeded
  random init, written the way the training loop writes checkpoints.
- `released_checkpoint` (per test): that file registered in the per-test database as a run's checkpoint,
  with an admin's decision choosing it (what the bot's workers generate from). Returns
  Released(run_id, checkpoint_id, rater_id, path).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Released:
    run_id: int
    checkpoint_id: int
    rater_id: int
    path: Path


def write_tiny_checkpoint(config, path: Path, seed: int = 0) -> Path:
    import torch

    from training.config import config_to_dict
    from training.dalle.checkpoint import save_atomic
    from training.tiny.model import load_tiny

    bundle = load_tiny(config, path.parent, torch.device("cpu"), seed=seed)
    weights = {name: p.detach().clone() for name, p in bundle.model.named_parameters()}
    save_atomic({"step": 0, "epoch": 0.0, "model": weights, "config": config_to_dict(config)}, path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint_file(tmp_path_factory, tiny_models_dir) -> Path:
    from tests.fixtures_training import _config

    return write_tiny_checkpoint(_config(tiny_models_dir), tmp_path_factory.mktemp("tiny_ckpt") / "step_0.pt")


def release(engine, path: Path, run_name: str = "released-run", home: Path | None = None) -> Released:
    """Record `path` as a run's checkpoint and release it. With `home`, the file is copied into that home and
    stored relative to it, as training stores checkpoints."""
    from db.decisions import add_decision
    from db.engine import write_session
    from db.models import Checkpoint
    from db.raters import add_rater
    from db.runs import add_run

    stored = str(path)
    if home is not None:
        import shutil

        from db.home import Home

        layout = Home.resolve(home)
        target = layout.checkpoint(run_name, 0)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        path, stored = target, layout.to_stored(target)
    with write_session(engine) as s:
        run = add_run(s, run_name, {"kind": "test"})
        checkpoint = Checkpoint(run_id=run.id, step=0, epoch=0.0, path=stored)
        s.add(checkpoint)
        s.flush()
        rater, _ = add_rater(s, f"{run_name}-admin", is_admin=True)
        add_decision(s, rater.id, checkpoint.id, "the tests' released checkpoint")
        return Released(run.id, checkpoint.id, rater.id, path)


@pytest.fixture
def released_checkpoint(engine, home, tiny_checkpoint_file) -> Released:
    return release(engine, tiny_checkpoint_file, home=home)
