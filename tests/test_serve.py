"""`emojich workbench` as README shows it (no --headless) starts with no terminal attached and
never stops at Streamlit's first-run "Email:" prompt."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from workbench.cli import main as cli


def test_workbench_starts_without_a_terminal_and_never_asks_for_an_email(home, db_url, tmp_path):
    fresh_user = tmp_path / "user"  # no ~/.streamlit/credentials.toml: Streamlit's very first run
    fresh_user.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HOME": str(fresh_user), "EMOJICH_DB": db_url, "BROWSER": "true"}  # "opening" a browser is a no-op
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "workbench", "--port", str(port), "--address", "127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"workbench did not start (exit {proc.poll()}): {proc.communicate()[0].decode()[-1500:]}")
                time.sleep(0.3)
    finally:
        proc.terminate()
        try:
            output = proc.communicate(timeout=15)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0].decode()
    assert "Email:" not in output and not (fresh_user / ".streamlit" / "credentials.toml").exists()


def test_a_broken_streamlit_credentials_file_is_one_clear_line(home, db_url, tmp_path, monkeypatch, capsys):
    user = tmp_path / "user"
    (user / ".streamlit").mkdir(parents=True)
    (user / ".streamlit" / "credentials.toml").write_text("[general\nemail =", encoding="utf-8")
    monkeypatch.setenv("HOME", str(user))
    assert cli(["workbench", "--port", "8598"]) == 1
    err = capsys.readouterr().err.strip()
    assert "credentials.toml is not a valid Streamlit credentials file" in err and "\n" not in err
