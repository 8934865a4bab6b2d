"""A wheel built from the tree carries what the CLI needs: configs, prompts, CLDR names, migrations, the app.

The CLI then runs from that installed wheel (not the source tree) in another folder."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("emojich_workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("training/configs/tiny.toml", "training/configs/emojich.toml", "training/configs/smoke.toml",
                   "training/configs/prompts/eval_ru.txt", "training/dataset/cldr/annotations-ru.json",
                   "migrations/env.py", "migrations/versions/0001_initial_schema.py", "workbench/app/app.py"):
        assert needed in names, needed
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return target


def _cli(site: Path, cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    # -P: no script/cwd directory on sys.path; PYTHONPATH names only the installed wheel, which comes before the
    # venv's editable finder, so nothing is read from the source tree.
    env = {**os.environ, "PYTHONPATH": str(site), "EMOJICH_HOME": str(cwd / "home")}
    env.pop("EMOJICH_DB", None)
    code = ("import sys, training, workbench, db; "
            f"assert all(m.__file__.startswith({str(site)!r}) for m in (training, workbench, db)), 'source tree used'; "
            "from workbench.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-P", "-c", code, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_cli_runs_from_the_installed_wheel(installed_wheel, tmp_path):
    upgrade = _cli(installed_wheel, tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    train = _cli(installed_wheel, tmp_path, "train", "--config", "smoke", "--name", "wheel", "--no-progress",
                 "--set", "data.build_limit=48", "--set", "train.epochs=1")
    assert train.returncode == 0, train.stderr
    assert "run wheel" in train.stdout
    assert (tmp_path / "home" / "checkpoints" / "wheel" / "step_0.pt").is_file()
    unknown = _cli(installed_wheel, tmp_path, "train", "--config", "nonesuch")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == ("error: config 'nonesuch' is neither a file nor a shipped config "
                                      "(captioner-smoke, captioner-tiny, captioner, emojich, smoke, tiny)")
