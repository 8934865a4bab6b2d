"""SIGTERM (what `timeout`, systemd and Kubernetes send) stops every long job like Ctrl-C: exit 143,
one line, nothing partial in the database or on disk. The signal is sent from inside the real job,
at a fixed point, so each test hits the same moment every time (training: tests/test_train_loop.py)."""
from __future__ import annotations

import csv
import os
import signal

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from db.engine import read_session
from db.models import DatasetItem, Mask, SegmentationRound
from workbench.cli import main


def _terminate_on_call(monkeypatch, module, name: str, on_call: int = 1):
    """Wrap module.name (the real function still runs) so its `on_call`-th call sends this process SIGTERM;
    returns the real function."""
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == on_call:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return real


def _interrupted_line(capsys) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("interrupted"), err
    assert not any("Traceback" in line for line in err)


@pytest.mark.usefixtures("one_torch_thread")
def test_sigterm_during_a_segment_round_leaves_no_round_no_masks_no_model_file(seg_home, engine, capsys,
                                                                               monkeypatch, generated_samples):
    import training.segmentation.rounds as rounds

    models = rounds.model_dir(seg_home)
    models.mkdir(parents=True)
    (models / "round_7.pt").write_bytes(b"left by a killed round")  # no row: cleaned by the next round
    (models / ".round_1.pt.tmp").write_bytes(b"half written")
    with read_session(engine) as s:
        masks_before = s.scalar(select(func.count()).select_from(Mask))
    real = _terminate_on_call(monkeypatch, rounds, "segment")  # after the model file is saved, before the DB write
    args = ["segment", "round", "--encoder", "resnet18", "--epochs", "1", "--image-size", "64"]
    assert main(args) == 143
    _interrupted_line(capsys)
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SegmentationRound)) == 0
        assert s.scalar(select(func.count()).select_from(Mask)) == masks_before
    assert sorted(p.name for p in models.iterdir()) == []  # its own file removed, the leftovers cleaned

    monkeypatch.setattr(rounds, "segment", real)
    assert main(args) == 0
    with read_session(engine) as s:
        (row,) = s.scalars(select(SegmentationRound)).all()
        assert row.round == 1 and s.scalar(select(func.count()).select_from(Mask)) > masks_before
    assert sorted(p.name for p in models.iterdir()) == ["round_1.pt"]


def test_sigterm_during_a_dataset_import_writes_nothing(home, engine, tmp_path, capsys, monkeypatch):
    import training.dataset.folder as folder_module

    folder = tmp_path / "emoji"
    folder.mkdir()
    with (folder / "list.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "caption"])
        for i in range(4):
            pixels = np.zeros((24, 24, 4), np.uint8)
            pixels[4:20, 4:20] = (200, 20 * i, 0, 255)
            Image.fromarray(pixels, "RGBA").save(folder / f"e{i}.png")
            writer.writerow([f"e{i}.png", f"эмодзи {i}"])
    real = _terminate_on_call(monkeypatch, folder_module, "load_rgba", on_call=3)
    assert main(["dataset", "build", "--source", "folder", str(folder), "--name", "term", "--size", "16",
                 "--val-size", "0"]) == 143
    _interrupted_line(capsys)
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(DatasetItem)) == 0
    assert not (home / "datasets" / "term" / "metadata.jsonl").exists()
    monkeypatch.setattr(folder_module, "load_rgba", real)
    assert main(["dataset", "build", "--source", "folder", str(folder), "--name", "term", "--size", "16",
                 "--val-size", "0"]) == 0
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(DatasetItem)) == 4


def test_sigterm_handler_is_only_installed_while_a_command_runs(home):
    before = signal.getsignal(signal.SIGTERM)
    assert main(["db", "current"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_signal_waits_until_the_final_status_is_written():
    from training.dalle.train import _stop_signals_deferred

    seen = []

    def handler(signum, frame):
        seen.append("signal")
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(KeyboardInterrupt), _stop_signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)  # torchrun's agent, while rank 0 records the interruption
            seen.append("status written")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["status written", "signal"]
