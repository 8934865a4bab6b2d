"""`emojich train --nproc N`: the same command on N local processes through torch's elastic launcher
(what `torchrun --standalone --nproc-per-node N -m workbench.cli train …` runs), in this process.

The agent starts the workers (each `python -m workbench.cli train …` with RANK/WORLD_SIZE set), watches
them, and when one dies stops the rest (SIGTERM, which each rank records as an interrupt); this process
then says in one line which rank failed and how, instead of torch's multi-line report.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import uuid

from db.errors import EmojichError


class WorkersFailed(EmojichError):
    pass


def launch(nproc: int, argv: list[str], env: dict[str, str], run: str | None = None) -> None:
    """Run `python -m workbench.cli ARGV` as `nproc` ranks on this machine; raise WorkersFailed when any fails."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise EmojichError(f"--nproc must be at least 1; got {nproc}")
    os.environ.update(env)  # the agent passes its environment to the workers
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: N processes × all cores would oversubscribe
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # said in one line below
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.5,
    )
    try:
        elastic_launch(config, sys.executable)("-m", "workbench.cli", *argv)
    except SignalException as exc:  # this process was stopped: the agent has stopped the workers
        from workbench.cli.main import Terminated

        raise (Terminated() if exc.sigval == signal.SIGTERM else KeyboardInterrupt()) from None
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        how = f"was killed by {failure.signal_name()}" if failure.exitcode < 0 else f"exited with {failure.exitcode}"
        others = sorted(r for r in exc.failures if r != rank)
        stopped = f"; {'rank' if len(others) == 1 else 'ranks'} {', '.join(map(str, others))} stopped with it"
        raise WorkersFailed(
            f"training rank {rank} (pid {failure.pid}) {how}" + (stopped if others else "")
            + f"; the run is marked interrupted or failed: emojich train --resume {run or 'RUN'} --nproc {nproc}"
        ) from None
