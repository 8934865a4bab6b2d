"""`emojich bot --token-file FILE` as a process against the fake Bot API server: the token never shows
on the command line or in the logs (debug logging included); bad token files get one line."""
from __future__ import annotations

import asyncio
import os
import signal
import sys

from tests.fake_telegram import TOKEN, FakeTelegram, FakeUser
from tests.fixtures_bot import REPO
from workbench.cli import main

ANYA = FakeUser(1001, "Аня", "ru")


def test_bad_token_files_get_one_line(home, tmp_path, capsys):
    assert main(["bot", "--token-file", str(tmp_path / "missing")]) == 1
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "token"
    bad.write_text("my-secret-password\n")
    assert main(["bot", "--token-file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "does not hold a bot token" in err and "my-secret-password" not in err and err.count("\n") == 1


def test_bot_process_keeps_its_token_out_of_the_logs(bot_world, tmp_path):
    token_file = tmp_path / "bot.token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)

    async def scenario():
        async with FakeTelegram() as tg:
            env = {**os.environ, "PYTHONPATH": str(REPO), "EMOJICH_DB": bot_world.db_url,
                   "EMOJICH_HOME": str(bot_world.home)}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "workbench.cli", "bot", "--token-file", str(token_file), "--api-url",
                f"http://127.0.0.1:{tg.port}", "--verbose", cwd=REPO, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                await tg.wait_call("getMe", timeout=120)
                mark = len(tg.calls)
                await tg.send_text(ANYA, "/start")
                assert (await tg.replies_to(ANYA, mark))[0].startswith("Привет!")
                mark = len(tg.calls)
                await tg.send_text(ANYA, "ежик в голубой шапке")
                assert (await tg.replies_to(ANYA, mark))[0] == "в очереди: 1-й"
            finally:
                proc.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(proc.communicate(), 60)
            return proc.returncode, out.decode(), err.decode()

    code, out, err = asyncio.run(scenario())
    assert code == 0, err[-3000:]
    assert "bot stopped" in out
    assert "is polling" in err and "<token>" in err  # debug logs name the API URL, with the token masked
    assert TOKEN not in out + err and TOKEN.split(":")[1] not in out + err
