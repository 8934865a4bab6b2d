"""Data-parallel fine-tuning (torch.distributed DDP): which rank this is, its shard of a global batch,
and the few collectives the loop needs.

`torchrun --nproc-per-node N -m workbench.cli train …` (or `emojich train --nproc N`, which runs torch's
elastic launcher itself) sets RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT; `setup()` then joins the
process group: NCCL when training on CUDA (one GPU per local rank), gloo on the CPU. Without those
variables `setup()` returns the single process (`World()`, rank 0 of 1) and every helper is a no-op, so the
loop reads the same either way.

Global batch: `train.batch_size` is the examples per optimizer step over all ranks; each rank takes every
size-th example of it and weights its loss so the averaged gradient is the gradient of the global mean
(`shard`). A rank whose shard is empty (a short last batch) runs one example at weight 0, so every rank
joins every gradient all-reduce.

A rank that dies: torchrun's agent sees it within its monitor interval and sends the others SIGTERM (the
CLI turns that into an interrupt), and a collective that finds its peer gone raises at once; `is_peer_loss`
tells the second kind apart so the run is marked interrupted, not failed. The process-group timeout
(EMOJICH_DIST_TIMEOUT_S, default 1800 s) only bounds a rank that hangs without dying.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from db.errors import EmojichError

DEFAULT_TIMEOUT_S = 1800
_PEER_LOSS_MARKERS = ("connection closed by peer", "connection reset by peer", "broken pipe", "nccl",
                      "gloo", "processgroup", "socket timeout", "timed out")


class RankLost(EmojichError):
    """Another rank of a distributed run stopped; this one stops too (the run is resumable)."""


class MainRankFailed(EmojichError):
    """Rank 0 failed before training started; the other ranks stop without repeating its message."""

    quiet = True


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None  # None: no process group (a plain single-process run)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.backend is not None

    def device(self, name: str) -> torch.device:
        """The device a rank trains on: its own GPU under NCCL, else what `train.device` says."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        from training.dalle.bundle import resolve_device

        return resolve_device(name)

    def describe(self) -> str:
        return f"{self.size} rank{'s' if self.size > 1 else ''} ({self.backend})" if self.active else "1 process"


def launched() -> bool:
    """True in a process started by torchrun (or anything else that sets the torch.distributed variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def timeout_s() -> float:
    try:
        return max(1.0, float(os.environ.get("EMOJICH_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S)))
    except ValueError:
        raise EmojichError("EMOJICH_DIST_TIMEOUT_S must be a number of seconds") from None


def setup(device_name: str = "auto") -> World:
    """Join the process group (once per process) when launched by torchrun; else the single process."""
    if not launched():
        return World()
    if not dist.is_initialized():
        cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
        backend = "nccl" if cuda else "gloo"
        if cuda:
            if not torch.cuda.is_available():
                raise EmojichError("train.device is cuda but no CUDA device is available")
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s()))
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_backend())


def is_peer_loss(world: World, exc: BaseException) -> bool:
    """Whether `exc` is a collective failing because another rank is gone (not a bug of this rank)."""
    if not world.active or not isinstance(exc, RuntimeError):
        return False
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    message = str(exc).lower()
    return any(marker in message for marker in _PEER_LOSS_MARKERS)


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def broadcast(world: World, value):
    """Rank 0's `value` on every rank (any picklable object)."""
    if not world.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(world: World, fn):
    """Run `fn()` on rank 0 only and give every rank its result; when it raises, rank 0 re-raises and the
    others raise `MainRankFailed` (quiet: rank 0 has said why)."""
    if not world.active:
        return fn()
    outcome, error = None, None
    if world.is_main:
        try:
            outcome = ("ok", fn())
        except BaseException as exc:
            error = exc
            outcome = ("error", f"{type(exc).__name__}: {exc}")
    outcome = broadcast(world, outcome)
    if error is not None:
        raise error
    if outcome[0] == "error":
        raise MainRankFailed(f"rank 0 failed: {outcome[1]}")
    return outcome[1]


def shard(world: World, index: torch.Tensor) -> tuple[torch.Tensor, float]:
    """This rank's examples of a global batch and the weight of its mean loss (see the module doc)."""
    if world.size == 1:
        return index, 1.0
    mine = index[world.rank::world.size]
    if len(mine) == 0:
        return index[:1], 0.0
    return mine, world.size * len(mine) / len(index)


def sum_over_ranks(world: World, values: torch.Tensor) -> torch.Tensor:
    if world.active:
        values = values.clone()
        dist.all_reduce(values)
    return values


def my_share(world: World, n: int) -> list[int]:
    """Positions 0..n-1 this rank handles (every size-th one)."""
    return list(range(world.rank, n, world.size))


def gather_on_main(world: World, items: list) -> list:
    """Every rank's `items` concatenated in rank order on rank 0; [] on the others."""
    if not world.active:
        return list(items)
    box = [None] * world.size if world.is_main else None
    dist.gather_object(items, box, dst=0)
    return [item for part in box for item in part] if world.is_main else []


def wrap(world: World, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DDP over the trainable parameters (frozen ones have requires_grad False and are never synced).

    static_graph: the same parameters take part in every step, so DDP may skip its per-step search
    for unused ones and still tolerates parameters the loss never reaches; buffers are constant
    after the initial broadcast, so they are not re-sent every forward."""
    if not world.active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   forward_sync_buffers=False, static_graph=True)


def setup_rank() -> int:
    """This process's global rank as the launcher set it (0 outside a distributed launch)."""
    return int(os.environ.get("RANK", "0")) if launched() else 0


def shutdown_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
