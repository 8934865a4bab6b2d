"""A checkpoint write that Ctrl-C or SIGTERM interrupts ends as the interrupt (the command then says
"interrupted" and marks the run so), not as the error torch's zip writer raises while closing the file
it was cut off in; nothing is left at the checkpoint's path."""
from __future__ import annotations

import pytest
import torch

from training.dalle import checkpoint


def _cut_off_save(state, f):
    # What SIGTERM mid-write did in CI: the interrupt lands inside a write, then torch's zip writer,
    # closing, finds the file position wrong and raises over it.
    f.write(b"PK\x03\x04 partial")
    try:
        raise KeyboardInterrupt
    finally:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 17344 vs 17238")


def test_an_interrupt_during_the_write_stays_an_interrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", _cut_off_save)
    path = tmp_path / "run" / "step_4.pt"
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_atomic({"step": 4}, path)
    assert list(path.parent.iterdir()) == []  # no checkpoint and no .tmp


def test_other_write_errors_are_raised_as_they_are(tmp_path, monkeypatch):
    def broken(state, f):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="disk trouble"):
        checkpoint.save_atomic({"step": 4}, tmp_path / "step_4.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_whole_write_lands_at_the_path(tmp_path):
    path = tmp_path / "step_4.pt"
    checkpoint.save_atomic({"step": 4, "w": torch.ones(3)}, path)
    assert torch.load(path, weights_only=True)["step"] == 4 and not path.with_name("step_4.pt.tmp").exists()
