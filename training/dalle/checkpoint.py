"""Checkpoint files: one plain dict per sampling point, written atomically (tmp file, then rename).

{"step", "epoch", "model" (trainable weights; every weight for a tiny model), "optimizer", "scheduler",
 "rng", "config", "optimizer_name"} — plain tensors and Python values, so `torch.load(weights_only=True)`
reads it back and the sampler rebuilds the exact model from the stored config.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from db.errors import CheckpointNotFound, EmojichError
from db.home import Home
from training.config import config_from_dict


def run_dir(home: Path, run_name: str) -> Path:
    return Home.resolve(home).checkpoint(run_name, 0).parent


def checkpoint_path(home: Path, run_name: str, step: int) -> Path:
    return Home.resolve(home).checkpoint(run_name, step)


def clean_leftovers(folder: Path, keep: set[str]) -> list[Path]:
    """Remove what a killed run leaves in its checkpoint folder: `.tmp` files (killed mid-write) and
    `step_N.pt` files no checkpoint row points at (killed before the row was written; the resumed run
    trains those steps again). `keep`: the paths stored on the run's checkpoint rows (matched by file name:
    the folder is the run's own)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    kept = {Path(p).name for p in keep}
    leftovers = list(folder.glob("*.tmp")) + [p for p in folder.glob("step_*.pt") if p.name not in kept]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def save_atomic(state: dict, path: Path) -> None:
    """Write `state` to `path` whole or not at all (a `.tmp`, then a rename). A write that fails or is
    interrupted leaves nothing; an interrupt (Ctrl-C, or SIGTERM, which the CLI turns into one) is raised
    as the interrupt even when torch's zip writer, closing the file it was cut off in, raised over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        interrupt = _interrupt_behind(exc)
        if interrupt is not None and interrupt is not exc:
            raise interrupt from None
        raise


def _interrupt_behind(exc: BaseException | None) -> KeyboardInterrupt | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__context__
    return None


def read_checkpoint(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFound(f"checkpoint file {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which
        raise EmojichError(f"checkpoint file {path} cannot be read (truncated or not a torch file): {exc}") from exc
    if not isinstance(state, dict) or not {"config", "model"} <= state.keys():
        raise EmojichError(f"checkpoint file {path} is not an emojich training checkpoint (no config and weights)")
    return state


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_weights(model: torch.nn.Module, weights: dict) -> None:
    """Load a checkpoint's weights over the base model; every stored name must exist."""
    missing_from_model = sorted(set(weights) - {n for n, _ in model.named_parameters()})
    if missing_from_model:
        raise EmojichError(f"checkpoint holds weights the model lacks: {', '.join(missing_from_model[:5])}")
    model.load_state_dict(weights, strict=False)


def bundle_from_checkpoint(path: Path, home: Path, device: torch.device | None = None, dwt: bool = False):
    """Rebuild the model a checkpoint file was saved from (config inside the file) and load its weights."""
    from training.dalle.bundle import resolve_device
    from training.dalle.load import load_bundle, load_pretrained

    state = read_checkpoint(path)
    config = config_from_dict(state["config"], origin=str(path))
    device = device or resolve_device(config.train.device)
    if dwt:
        bundle = load_pretrained(config, home, device, dwt=True)
    else:
        bundle = load_bundle(config, home, device)
    load_weights(bundle.model, state["model"])
    bundle.model.eval()
    return bundle, state
