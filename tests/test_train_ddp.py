"""Data-parallel fine-tuning on the CPU: 2 gloo ranks through `emojich train --nproc 2` (torch's elastic
launcher, as torchrun), compared with one process on the same global batch.

Tolerance: every logged metric (loss, text/image loss, grad norm, LR) of the 2-rank run equals the
single process's to rel 1e-4: the ranks' shard means, weighted and averaged by DDP, are the global
batch's mean up to float summation order. Step-0 samples are bit-identical (the same weights, and each
sample has its own seed), which also proves the gathered samples are stored in prompt order.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from sqlalchemy import select

from db.engine import read_session
from db.home import Home
from db.models import Checkpoint, Run, Sample
from tests.test_train_loop import REPO, _cli_args, _state, _wait_for_checkpoint
from training.dalle import distributed
from training.dalle.train import train

STEPS = 16  # checkpoints at 0, 4, 8, 12, 16: rank 1 is killed once step 4's is in, well before the end


def _ranks_of(launcher_pid: int) -> dict[int, int]:
    """{rank: pid} of the workers the launcher started (their RANK variable, read from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid != launcher_pid:
                continue
            env = dict(v.split("=", 1) for v in (entry / "environ").read_text().split("\0") if "=" in v)
        except (OSError, IndexError, ValueError):
            continue
        if "RANK" in env:
            found[int(env["RANK"])] = int(entry.name)
    return found


def _samples(engine, run_id: int) -> dict[int, list[tuple[int, str, float]]]:
    with read_session(engine) as s:
        rows = s.execute(select(Checkpoint.step, Sample.prompt_id, Sample.image_sha256, Sample.perplexity)
                         .join(Sample, Sample.checkpoint_id == Checkpoint.id).where(Checkpoint.run_id == run_id)
                         .order_by(Checkpoint.step, Sample.prompt_id)).all()
    out: dict[int, list] = {}
    for step, prompt, sha, ppl in rows:
        out.setdefault(step, []).append((prompt, sha, ppl))
    return out


def test_shards_cover_the_global_batch_and_weight_to_its_mean():
    index = torch.arange(7)
    parts = [distributed.shard(distributed.World(rank=r, size=3, backend="gloo"), index) for r in range(3)]
    assert sorted(torch.cat([p for p, _ in parts]).tolist()) == list(range(7))
    # DDP averages over 3 ranks: (1/3) Σ w_r ∇mean_r = Σ (n_r/7) ∇mean_r, the gradient of the mean over 7
    assert [w for _, w in parts] == pytest.approx([3 * len(p) / 7 for p, _ in parts])
    assert sum(w for _, w in parts) / 3 == pytest.approx(1.0)
    short = [distributed.shard(distributed.World(rank=r, size=3, backend="gloo"), index[:2]) for r in range(3)]
    assert [len(p) for p, _ in short] == [1, 1, 1] and short[2][1] == 0.0  # an empty shard runs at weight 0
    assert distributed.my_share(distributed.World(rank=1, size=3, backend="gloo"), 8) == [1, 4, 7]


@pytest.mark.usefixtures("one_torch_thread")  # a busy 2-core machine: 2 threads spin-wait on each other
def test_two_gloo_ranks_match_one_process_and_a_killed_rank_resumes(home, engine, tiny_dataset_dir,
                                                                     tiny_models_dir, tiny_train_config):
    (home / "datasets").mkdir()
    (home / "datasets" / tiny_dataset_dir.name).symlink_to(tiny_dataset_dir, target_is_directory=True)
    reference = train(tiny_train_config(train={"max_steps": STEPS}), home, engine, name="single", progress=False)
    expected = _state(engine, reference.run_id)[2]

    env = {**os.environ, "PYTHONPATH": str(REPO), "EMOJICH_HOME": str(home), "EMOJICH_DB": str(engine.url)}
    args = [sys.executable, "-m", "workbench.cli", "train", "--nproc", "2", "--name", "ddp",
            *_cli_args(tiny_models_dir, f"train.max_steps={STEPS}")]
    launcher = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_checkpoint(engine, "ddp", 4, launcher)
        ranks = _ranks_of(launcher.pid)
        assert sorted(ranks) == [0, 1]
        os.kill(ranks[1], signal.SIGKILL)
        killed = time.monotonic()
        _, err = launcher.communicate(timeout=120)
        stopped_after = time.monotonic() - killed
    finally:
        launcher.kill()
    # the others stopped (torchrun's agent sends SIGTERM), with one line that names the lost rank
    assert launcher.returncode == 1, err
    assert err.strip().splitlines()[-1].startswith("error: training rank 1"), err
    assert "SIGKILL" in err and "--resume ddp --nproc 2" in err and "Traceback" not in err
    print(f"rank 1 killed: launcher exited {stopped_after:.1f} s later")
    with read_session(engine) as s:
        run_id = s.scalar(select(Run.id).where(Run.name == "ddp"))
    per_ckpt, missing, before, status, paths = _state(engine, run_id)
    assert status == "interrupted" and missing == 0 and set(per_ckpt.values()) == {64}  # one full set each
    assert all(Home.resolve(home).from_stored(p).is_file() for p in paths) and max(per_ckpt) < STEPS
    assert {step for _, step in before} and max(step for _, step in before) < STEPS

    # the same numbers as one process: sharded batch + DDP average = the global batch's mean
    for key, value in before.items():
        if key[0] != "samples_per_s":
            assert value == pytest.approx(expected[key], rel=1e-4, abs=1e-7), key
    ddp_samples, single_samples = _samples(engine, run_id), _samples(engine, reference.run_id)
    assert [sha for _, sha, _ in ddp_samples[0]] == [sha for _, sha, _ in single_samples[0]]
    for step, rows in ddp_samples.items():  # later samples may differ where a token is a near tie
        assert [p for p, _, _ in rows] == [p for p, _, _ in single_samples[step]]
        mean = sum(pp for _, _, pp in rows) / 64
        assert mean == pytest.approx(sum(pp for _, _, pp in single_samples[step]) / 64, rel=1e-2)

    # resume at another world size (one process): same data order by global step, same numbers to the end
    info = train(None, home, engine, resume="ddp", progress=False)
    per_ckpt, missing, after, status, paths = _state(engine, info.run_id)
    assert status == "finished" and missing == 0 and set(per_ckpt.values()) == {64}
    assert list(per_ckpt) == list(_state(engine, reference.run_id)[0])
    assert sorted((home / "checkpoints" / "ddp").iterdir()) == sorted(Home.resolve(home).from_stored(p) for p in paths)
    assert set(after) == set(expected)
    for key, value in expected.items():
        if key[0] != "samples_per_s":
            assert after[key] == pytest.approx(value, rel=1e-4, abs=1e-7), key


@pytest.mark.usefixtures("one_torch_thread")
def test_ddp_at_world_size_one_syncs_only_trainable_weights_and_equals_the_plain_run(engine, train_home,
                                                                                    tiny_train_config, monkeypatch):
    import socket

    from training.dalle.freeze import freeze
    from training.dalle.load import load_bundle
    from training.dalle.loss import LossModule

    config = tiny_train_config(train={"freeze": ["attention", "mlp"], "max_steps": 4})
    plain = train(config, train_home, engine, name="plain", progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(key, value)  # what torchrun --nproc-per-node 1 sets
    try:
        world = distributed.setup("cpu")
        assert (world.active, world.size, world.backend) == (True, 1, "gloo")
        model = load_bundle(config, train_home, torch.device("cpu")).model
        freeze(model, ["attention", "mlp"])
        wrapped = distributed.wrap(world, LossModule(model, 1e3), torch.device("cpu"))
        trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
        everything = sum(p.numel() * p.element_size() for p in model.parameters())
        assert wrapped._get_ddp_logging_data()["total_parameter_size_bytes"] == trainable < everything
        ddp = train(config, train_home, engine, name="ddp-1", progress=False)
    finally:
        distributed.shutdown_process_group()
    ddp_state, plain_state = _state(engine, ddp.run_id), _state(engine, plain.run_id)
    assert ddp_state[3] == "finished" and ddp_state[0] == plain_state[0] == {0: 64, 4: 64}
    for key, value in plain_state[2].items():
        if key[0] != "samples_per_s":
            assert ddp_state[2][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
