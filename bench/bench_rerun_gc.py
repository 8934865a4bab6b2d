"""The app server's CPU per rating, with and without freezing the imported heap (workbench/app/long_lived.py).

    .venv/bin/python bench/bench_rerun_gc.py [--ratings 40] [--rounds 2]

Streamlit runs a full garbage collection after every script run (`runner.postScriptGC`); a full
collection walks every object the collector tracks, and the app server has SQLAlchemy's, Streamlit's
and the app's modules loaded. For each configuration this starts the real server (`emojich workbench`'s
Streamlit command) on a seeded SQLite workbench, logs in with headless Chromium and rates `--ratings`
images by typing three digits each, then prints the server process's CPU seconds per rating (from
/proc: every rerun, component event and polling tick the rating caused) and the key press → next image
latency (from the third digit's key press, the one that saves). Each configuration runs `--rounds`
times, alternating (ABBA), on a fresh workbench. "without gc.freeze" is the same server with `long_lived.freeze_imports` replaced by a no-op,
which is what the app did before. Prints figures; never a timed test.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soak import BROWSER_ARGS, percentile, start_server  # noqa: E402

NO_FREEZE = ("import sys, workbench.app.long_lived as l; l.freeze_imports = lambda: False; "
             "from streamlit.web.cli import main; sys.argv = ['streamlit', *sys.argv[1:]]; main()")


def server_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(db_url: str, home: Path, freeze: bool) -> tuple[subprocess.Popen, str]:
    """The Streamlit process itself (its CPU is what is measured), as `emojich workbench` starts it."""
    from workbench.cli.workbench_server import streamlit_command

    def command_for(port: int) -> list[str]:
        command = streamlit_command(port, "127.0.0.1")
        return command if freeze else [sys.executable, "-c", NO_FREEZE, *command[3:]]  # after `python -m streamlit`
    return start_server(db_url, home, command_for)


def rate(url: str, token: str, ratings: int, pid: int) -> dict:
    from playwright.sync_api import expect, sync_playwright

    latencies = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("typed: · · ·").wait_for()
        progress = re.compile(r"(\d+) rated · \d+ to go")
        time.sleep(3)  # the page settled
        cpu_before, started = server_cpu_s(pid), time.perf_counter()
        for i in range(ratings):
            page.get_by_text("typed: · · ·").wait_for()
            shown = page.locator("img.picture").get_attribute("src")
            page.keyboard.type(f"{1 + i % 5}{1 + (i + 2) % 5}", delay=60)
            t0 = time.perf_counter()  # the third digit saves: from its key press
            page.keyboard.press(str(1 + (i + 4) % 5))
            expect(page.locator("img.picture")).not_to_have_attribute("src", shown, timeout=120_000)
            latencies.append((time.perf_counter() - t0) * 1000)
        cpu, wall = server_cpu_s(pid) - cpu_before, time.perf_counter() - started
        rated = int(progress.search(page.get_by_text(progress).inner_text()).group(1))
        browser.close()
    return {"cpu_s": cpu, "wall_s": wall, "latency": latencies, "rated": rated}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="each configuration this many times, in ABBA order")
    args = parser.parse_args()

    from db.engine import make_engine, write_session
    from db.migrate import upgrade
    from tests.seed import seed_workbench

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    configurations = (("as shipped (gc.freeze after imports)", True), ("without gc.freeze", False))
    order = [c for r in range(args.rounds) for c in (configurations if r % 2 == 0 else configurations[::-1])]
    for label, freeze in order:
        with tempfile.TemporaryDirectory(prefix="emojich-rerun-gc-") as tmp:
            home = Path(tmp)
            url = f"sqlite:///{home / 'emojich.db'}"
            upgrade(url)
            engine = make_engine(url)
            with write_session(engine) as s:
                seeded = seed_workbench(s, run_name="rerun-gc", checkpoints=4, raters=1, rate=False, masks=0,
                                        dataset_items=0, comparisons_per_rater=0, image_size=64)
            engine.dispose()
            token = next(t for name, (_, t) in seeded.raters.items() if name != "admin")
            proc, server = start(url, home, freeze)
            try:
                result = rate(server, token, args.ratings, proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        per = result["cpu_s"] / args.ratings * 1000
        print(f"{label}: {args.ratings} ratings ({result['rated']} stored) in {result['wall_s']:.1f} s; server CPU "
              f"{result['cpu_s']:.2f} s, {per:.0f} ms per rating; key press → next image p50 "
              f"{percentile(result['latency'], 50):.0f} ms, p95 {percentile(result['latency'], 95):.0f} ms; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
