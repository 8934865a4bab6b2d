"""The bot and the workers never import streamlit or the workbench app (ARCHITECTURE: rooms that never
import each other's insides); importing them loads no model library (rudalle, smp): the bot never does."""
from __future__ import annotations

import subprocess
import sys

from tests.fixtures_bot import REPO

PROBE = """
import sys
import workbench.bot.app, workbench.bot.worker, workbench.cli.commands.bot, workbench.cli.commands.worker
bad = sorted(m for m in sys.modules if m in ("streamlit", "rudalle", "segmentation_models_pytorch")
             or m.startswith(("streamlit.", "workbench.app", "workbench.app.components")))
print(",".join(bad))
"""


def test_bot_and_workers_never_import_streamlit_or_the_app():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
