"""One Home knows the on-disk layout; paths kept in the database are relative to it."""
from __future__ import annotations

import shutil

import pytest

from db.engine import write_session
from db.errors import EmojichError
from db.home import Home, OutsideHome
from db.runs import add_run
from db.samples import add_checkpoint_with_samples
from training.dalle.generate import resolve_checkpoint


def test_layout_and_stored_paths(tmp_path):
    home = Home.resolve(tmp_path / "h")
    assert home.dataset("noto-ru") == home.root / "datasets" / "noto-ru"
    assert home.checkpoint("demo", 120) == home.root / "checkpoints" / "demo" / "step_120.pt"
    assert home.segmentation_model(2) == home.root / "models" / "segmentation" / "round_2.pt"
    assert home.rudalle_cache == home.root / "models" / "rudalle"
    assert home.path("models/tiny") == home.root / "models" / "tiny" and home.path("/abs").as_posix() == "/abs"
    assert home.db_url("postgresql+psycopg://x") == "postgresql+psycopg://x"
    assert home.to_stored(home.checkpoint("demo", 0)) == "checkpoints/demo/step_0.pt"
    assert home.from_stored("checkpoints/demo/step_0.pt") == home.checkpoint("demo", 0)
    for name in ("", "..", "a/b"):
        with pytest.raises(EmojichError, match="invalid"):
            home.dataset(name)
    with pytest.raises(OutsideHome, match="outside the home folder"):
        home.to_stored(tmp_path / "elsewhere.pt")
    for stored in ("../other/step_0.pt", str(tmp_path / "elsewhere.pt"), "checkpoints/../../x.pt"):
        with pytest.raises(OutsideHome, match="outside the home folder"):
            home.from_stored(stored)


def test_a_copied_home_reads_its_own_checkpoint(engine, tmp_path):
    """Stored paths were absolute: `generate` in a copied home silently read the original's checkpoint."""
    original = Home.resolve(tmp_path / "original")
    path = original.checkpoint("run", 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights")
    with write_session(engine) as s:
        run = add_run(s, "run", {})
        checkpoint = add_checkpoint_with_samples(s, run.id, 0, 0.0, original.to_stored(path), [])
        outside = add_checkpoint_with_samples(s, run.id, 1, 0.0, str(tmp_path / "stray.pt"), [])
    (tmp_path / "stray.pt").write_bytes(b"x")
    assert resolve_checkpoint(engine, str(checkpoint.id), original.root).path == path

    copy = Home.resolve(tmp_path / "copy")
    shutil.copytree(original.root, copy.root)
    assert resolve_checkpoint(engine, str(checkpoint.id), copy.root).path == copy.checkpoint("run", 0)
    copy.checkpoint("run", 0).unlink()
    with pytest.raises(EmojichError, match=r"file .*copy/checkpoints/run/step_0.pt is missing"):
        resolve_checkpoint(engine, str(checkpoint.id), copy.root)
    with pytest.raises(OutsideHome, match="outside the home folder"):
        resolve_checkpoint(engine, str(outside.id), original.root)
