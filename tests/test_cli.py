"""The `emojich` console script: help everywhere, and user errors as one line without a traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import click
import typer.main

from workbench.cli import app


def _emojich(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("emojich", path=os.path.dirname(sys.executable))
    assert exe, "the emojich console script is installed by make setup"
    return subprocess.run([exe, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


def _all_command_paths(command: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            paths += _all_command_paths(sub, prefix + (name,))
    return paths


def test_help_on_every_command():
    from workbench.cli import main

    paths = _all_command_paths(typer.main.get_command(app))
    assert ("db", "upgrade") in paths
    for path in paths:
        assert main([*path, "--help"]) == 0, path


def test_console_script_upgrade_then_help(tmp_path):
    env = {"EMOJICH_HOME": str(tmp_path), "EMOJICH_DB": ""}
    result = _emojich("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "emojich.db").exists()
    assert _emojich("--help", env=env).returncode == 0


def test_user_errors_are_one_line(tmp_path):
    env = {"EMOJICH_HOME": str(tmp_path), "EMOJICH_DB": ""}
    # A URL for a driver that is not installed.
    bad = _emojich("--db", "nosuchdb://x/y", "db", "upgrade", env=env)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    # An unknown command: click's usage error, no traceback.
    unknown = _emojich("no-such-command", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
