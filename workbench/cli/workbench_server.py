"""The Streamlit workbench as a process: the command line `emojich workbench` runs, and a child process
the demo serves from while its fine-tune keeps training.

`streamlit_command` is the one place that knows how the app is started. `WorkbenchServer` runs it in the
background with its output in a log file (the demo's terminal keeps one progress line per stage), waits
until Streamlit's health endpoint answers, and stops it (SIGTERM, then SIGKILL). On Linux the child is
also told to exit if the demo process dies without stopping it.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from db.errors import EmojichError

# The app entry by path: importing workbench.app here would load it into every CLI process (bot, workers).
APP = Path(__file__).resolve().parents[1] / "app" / "server.py"


class PortInUse(EmojichError):
    pass


def streamlit_command(port: int, address: str = "localhost", headless: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--server.showEmailPrompt", "false",  # never stop at Streamlit's first-run "Email:" prompt
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
    ]


def check_streamlit_credentials() -> None:
    """A broken ~/.streamlit/credentials.toml makes Streamlit ask for an email whatever the flags say."""
    import tomllib

    path = Path.home() / ".streamlit" / "credentials.toml"
    if not path.exists():
        return
    try:
        email = tomllib.loads(path.read_text(encoding="utf-8")).get("general", {}).get("email")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        email = None
    if not isinstance(email, str):
        raise EmojichError(f"{path} is not a valid Streamlit credentials file (Streamlit would stop to ask for an "
                           "email); remove it and start again")


def server_env(home: Path, db_url: str) -> dict[str, str]:
    return {**os.environ, "EMOJICH_DB": db_url, "EMOJICH_HOME": str(home)}


def check_port_free(address: str, port: int) -> None:
    """One clear line before any work starts, rather than a server that dies later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((socket.gethostbyname(address), port))
        except OSError:
            raise PortInUse(f"port {port} on {address} is in use: stop what serves there or pass --port") from None


def _die_with_parent():
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies (PR_SET_PDEATHSIG);
    libc is loaded here, in the parent, so the child only makes one call between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:
        return None
    return lambda: prctl(1, signal.SIGTERM)


class WorkbenchServer:
    def __init__(self, home: Path, db_url: str, port: int, address: str = "localhost", log: Path | None = None):
        self.home, self.db_url, self.port, self.address = Path(home), db_url, port, address
        self.log = log or self.home / "demo" / "workbench.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> None:
        check_streamlit_credentials()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                streamlit_command(self.port, self.address), env=server_env(self.home, self.db_url),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the health endpoint answers; False if the server exited or `timeout_s` passed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.running():
            if self.healthy():
                return True
            time.sleep(0.25)
        return False

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C / SIGTERM interrupt this in the caller)."""
        return self.process.wait() if self.process else 0

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self.running():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
