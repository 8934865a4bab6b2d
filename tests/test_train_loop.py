"""The fine-tuning loop at test size: checkpoints with 64 samples each, metrics, status, kill and resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.engine import read_session
from db.home import Home
from db.models import Checkpoint, Image, Run, Sample
from db.runs import list_metrics
from training.config import config_to_dict
from training.dalle.train import sampling_steps, total_steps, train

REPO = Path(__file__).resolve().parents[1]


def _state(engine, run_id):
    with read_session(engine) as s:
        checkpoints = s.scalars(select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step)).all()
        per_ckpt = {c.step: s.scalar(select(func.count()).select_from(Sample).where(Sample.checkpoint_id == c.id))
                    for c in checkpoints}
        missing_images = s.scalar(
            select(func.count()).select_from(Sample).outerjoin(Image, Image.sha256 == Sample.image_sha256)
            .where(Image.sha256.is_(None)))
        metrics = {(m.name, m.step): m.value for m in list_metrics(s, run_id)}
        run = s.get(Run, run_id)
        return per_ckpt, missing_images, metrics, run.status, [c.path for c in checkpoints]


def _check_complete_run(engine, config, info, home):
    per_ckpt, missing, metrics, status, paths = _state(engine, info.run_id)
    assert status == "finished"
    assert info.step == info.total_steps == total_steps(config, 41) == 18
    assert list(per_ckpt) == sampling_steps(config, info.total_steps) == [0, 4, 8, 12, 16, 18]
    assert set(per_ckpt.values()) == {64} and missing == 0  # 64 samples per checkpoint, every image there
    assert all(not Path(p).is_absolute() and (home / p).is_file() for p in paths)  # stored relative to the home
    assert {name for name, _ in metrics} == {"loss", "loss_text", "loss_image", "lr", "grad_norm", "samples_per_s"}
    assert sorted({step for _, step in metrics}) == [2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert metrics[("loss_image", 18)] < metrics[("loss_image", 2)]  # it learns
    with read_session(engine) as s:
        run = s.get(Run, info.run_id)
        assert run.config == json.loads(json.dumps(config_to_dict(config)))
        ppl = s.scalars(select(Sample.perplexity)).all()
        assert all(p is not None and p > 1 for p in ppl)
    return metrics


def test_failed_run_records_its_error(engine, train_home, tiny_train_config):
    config = tiny_train_config(data={"dataset": "no-such-dataset"})
    with pytest.raises(Exception, match=r"metadata.jsonl missing\); run `emojich dataset build`"):
        train(config, train_home, engine, name="broken", progress=False)
    with read_session(engine) as s:
        run = s.scalar(select(Run).where(Run.name == "broken"))
        assert run.status == "failed" and "metadata.jsonl" in run.error
    # A run that failed before its first checkpoint does not keep the name: the fixed command just runs.
    info = train(tiny_train_config(train={"max_steps": 1}), train_home, engine, name="broken", progress=False)
    per_ckpt, _, _, status, _ = _state(engine, info.run_id)
    assert status == "finished" and per_ckpt == {0: 64, 1: 64}
    with read_session(engine) as s:
        assert s.scalars(select(Run.name)).all() == ["broken"]


KILL_SCRIPT = """
import sys
from pathlib import Path
from db.engine import make_engine
from training.config import config_from_dict
import json
from training.dalle.train import train
config = config_from_dict(json.loads(Path(sys.argv[3]).read_text()))
train(config, Path(sys.argv[1]), make_engine(sys.argv[2]), name="killed", progress=False)
"""


def test_kill_during_sampling_then_resume_is_consistent(engine, db_url, train_home, tiny_train_config, tmp_path):
    config = tiny_train_config()
    (tmp_path / "config.json").write_text(json.dumps(config_to_dict(config)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(train_home), db_url, str(tmp_path / "config.json")],
                            cwd=REPO, env=env)
    target = train_home / "checkpoints" / "killed" / "step_8.pt"
    deadline = time.monotonic() + 120
    try:
        while not target.exists():  # the file is written just before the 64 samples are generated
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with read_session(engine) as s:
        run_id = s.scalar(select(Run.id).where(Run.name == "killed"))
    per_ckpt, missing, metrics, status, _ = _state(engine, run_id)
    assert status == "running"  # SIGKILL leaves no chance to write anything
    assert set(per_ckpt.values()) <= {64} and missing == 0  # never a partial sample set
    killed_at = max(per_ckpt)
    assert killed_at == 4 and target.exists()  # killed mid-sampling: a checkpoint file without its DB row

    info = train(None, train_home, engine, resume="killed", progress=False)
    per_ckpt, missing, resumed, status, _ = _state(engine, info.run_id)
    assert status == "finished" and killed_at in per_ckpt
    assert list(per_ckpt) == [0, 4, 8, 12, 16, 18] and set(per_ckpt.values()) == {64} and missing == 0

    # The loss continues where it stopped: same numbers as a run that was never interrupted.
    reference = train(config, train_home, engine, name="uninterrupted", progress=False)
    expected = _check_complete_run(engine, config, reference, train_home)
    assert set(resumed) == set(expected)
    for key, value in expected.items():
        if key[0] != "samples_per_s":
            assert resumed[key] == pytest.approx(value, rel=1e-4, abs=1e-7), key


def test_cli_train_and_generate(home, tiny_dataset_dir, tiny_models_dir, tmp_path):
    (home / "datasets").mkdir()
    (home / "datasets" / tiny_dataset_dir.name).symlink_to(tiny_dataset_dir, target_is_directory=True)
    from tests.fixtures_training import TEST_DATASET

    sets = [f"data.dataset={json.dumps(TEST_DATASET)}", f"model.cache_dir={json.dumps(str(tiny_models_dir))}",
            "train.epochs=1", "sampling.every=100"]
    exe = str(Path(sys.executable).with_name("emojich"))
    args = [exe, "train", "--config", "smoke", "--name", "cli", "--no-progress"]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "run cli" in result.stdout

    again = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "exists" in again.stderr

    out = tmp_path / "out"
    gen = [exe, "generate", "--checkpoint", "1", "--prompt", "Улыбающийся Cat " * 6, "-n", "3", "--top-k", "32",
           "--out", str(out), "--seed", "7"]
    result = subprocess.run(gen, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "truncated" in result.stderr  # longer than the model's 12 text tokens: a warning, not an error
    files = sorted(p.name for p in out.glob("*.png"))
    assert len(files) == 3 and [f[:7] for f in files] == ["rank001", "rank002", "rank003"]
    assert sorted(int(f.split("_seed")[1].split("_")[0]) for f in files) == [7, 8, 9]
    assert result.stderr.count("truncated") == 1  # one warning, not one per candidate

    for bad in ("", "   "):
        result = subprocess.run([*gen[:5], bad, *gen[6:]], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and result.stderr == "error: prompt is empty\n"
    big = subprocess.run([*gen, "--size", "512"], capture_output=True, text=True, timeout=120)
    assert big.returncode == 1 and "DWT" in big.stderr and big.stderr.count("\n") == 1


def test_train_tiny_pipeline_at_smoke_scale_reuses_its_models(engine, train_home):
    from training.config import load_config
    from training.tiny.pipeline import train_tiny, train_tokenizer, train_vae

    config = load_config("smoke", ['data.dataset="tiny-ru"', "train.max_steps=12"])
    first = train_tiny(train_home, engine, config, name="smoke-1", progress=False)
    vae, bpe = train_home / "models" / "tiny-smoke" / "vae.pt", train_home / "models" / "tiny-smoke" / "bpe.model"
    stamps = (vae.stat().st_mtime_ns, bpe.stat().st_mtime_ns)
    assert train_vae(train_home, config) == vae and train_tokenizer(train_home, config) == bpe
    assert (vae.stat().st_mtime_ns, bpe.stat().st_mtime_ns) == stamps  # reused, not retrained
    per_ckpt, missing, _, status, _ = _state(engine, first.run_id)
    assert status == "finished" and per_ckpt == {0: 64, 4: 64, 8: 64, 12: 64} and missing == 0


def _cli_args(tiny_models_dir, *extra: str) -> list[str]:
    from tests.fixtures_training import TEST_DATASET

    sets = [f"data.dataset={json.dumps(TEST_DATASET)}", f"model.cache_dir={json.dumps(str(tiny_models_dir))}", *extra]
    args = ["--config", "smoke", "--no-progress"]
    for item in sets:
        args += ["--set", item]
    return args


def _wait_for_checkpoint(engine, name: str, step: int, proc, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with read_session(engine) as s:
            found = s.scalar(select(func.count()).select_from(Checkpoint).join(Run)
                             .where(Run.name == name, Checkpoint.step >= step))
        if found:
            return
        assert proc.poll() is None, "the run ended before the signal"
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)


@pytest.mark.usefixtures("one_torch_thread")
def test_sigterm_marks_the_run_interrupted_and_resume_cleans_leftovers(home, engine, tiny_dataset_dir,
                                                                     tiny_models_dir):
    (home / "datasets").mkdir()
    (home / "datasets" / tiny_dataset_dir.name).symlink_to(tiny_dataset_dir, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "train", "--name", "term",
                             *_cli_args(tiny_models_dir)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_checkpoint(engine, "term", 4, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("interrupted") and "Traceback" not in err
    with read_session(engine) as s:
        run_id = s.scalar(select(Run.id).where(Run.name == "term"))
    per_ckpt, missing, _, status, _ = _state(engine, run_id)
    assert status == "interrupted" and set(per_ckpt.values()) == {64} and missing == 0

    folder = home / "checkpoints" / "term"
    (folder / "step_12.pt.tmp").write_bytes(b"half a checkpoint")  # what a kill mid-write leaves
    (folder / "step_99.pt").write_bytes(b"a file whose row was never written")
    info = train(None, home, engine, resume="term", progress=False)
    per_ckpt, missing, _, status, paths = _state(engine, info.run_id)
    assert status == "finished" and list(per_ckpt) == [0, 4, 8, 12, 16, 18] and missing == 0
    stored = sorted(Home.resolve(home).from_stored(p) for p in paths)
    assert sorted(folder.iterdir()) == stored  # one file per row, nothing else
