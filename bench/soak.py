"""Load soak: many raters at once while a run keeps adding checkpoints and a U-Net round predicts,
on SQLite and on PostgreSQL. Prints figures; never a timed test.

    .venv/bin/python bench/soak.py [--seconds 60] [--raters 20] [--browsers 3] [--db sqlite postgres] [--faults]
        [--client-shares 102] [--batch-shares 1024]

Who does what, for --seconds on each database:
- `--browsers` raters are real clients of a running workbench (`emojich workbench`, Streamlit's
  own websocket client: headless Debian Chromium through Playwright): they log in with their
  token, type three digits per image, and now and then go back and change a rating (B) or undo
  it (U). Their latency is key press to the page showing the next image. In a deployment these
  browsers run on the raters' own machines, not on the server's cores; here they share the 2 cores,
  so they (Playwright's driver, every Chromium process and the thread driving them) go into a cpu
  cgroup with `--client-shares` (default 102, a tenth of the server's 1024; cgroup v1 `cpu.shares`,
  which Chromium's own per-thread nice values cannot escape). Where no writable cpu cgroup exists they
  run at the server's share, and the output says so. `--client-shares 1024` gives them an equal share.
  `--batch-shares` does the same for the segment rounds (default 1024: an equal share; a U-Net round
  takes one of the 2 cores for all of its 60-90 s here, where a deployment runs it on a GPU machine).
- the other raters call db/ directly, exactly as the Rate page does, each in its own process: one
  login (db/login.py), then per image the page's reads (next_item, rating_progress) and a save in
  one write transaction that first re-checks the login (db/login_sessions.py require_live), with
  a think time of 0.3-1.0 s; now and then an edit of the previous rating or an undo.
- a sampler process writes a checkpoint with 64 images (256 px, about 90 KB each) every 5 s, as the
  fine-tune's evaluation does (images encoded before the clock starts: a trainer does that on its own
  machine, and here it would starve the raters of CPU);
- `emojich segment round` (resnet18, 64 px, 10 s of training) runs back to back: it trains, then
  predicts every undecided sample (the sampler's new ones included) and writes the masks.

Then every rater's ledger is checked against the database: a save is "stored" when it is there
(or a later edit/undo of the same image superseded it), "lost" when it returned but is not there;
"duplicated" counts rows nobody should have (an undone rating still there, two rows for one image).
`--faults` then runs bench/soak_faults.py (SIGKILL trials), when it exists.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLER_EVERY_S = 5
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def error_kind(exc: BaseException) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text or "deadlock" in text or "lock timeout" in text:
        return "lock"
    return type(exc).__name__


# ---- direct raters (one process each) ---------------------------------------------------------------

def direct_rater(url: str, token: str, rater_id: int, seed: int, start_at: float, stop_at: float, out) -> None:
    from sqlalchemy import event

    from db.engine import make_engine, read_session, write_session
    from db.login import log_in
    from db.login_sessions import require_live
    from db.ratings import Scores, delete_rating, rating_progress, save_rating, save_repeat
    from db.runs import list_runs
    from workbench.app.rating_queue import next_item

    rng = random.Random(seed)
    engine = make_engine(url, pool_size=2) if url.startswith("postgresql") else make_engine(url)
    ops, pages, errors = [], 0, Counter()
    marks: list[tuple[str, float]] = []  # where a save's time goes: statements, commit, the rest
    event.listen(engine, "before_cursor_execute", lambda *_: marks.append(("sent", time.perf_counter())))
    event.listen(engine, "after_cursor_execute", lambda *_: marks.append(("answered", time.perf_counter())))
    event.listen(engine, "commit", lambda *_: marks.append(("commit", time.perf_counter())))
    event.listen(engine, "checkout", lambda *_: marks.append(("checkout", time.perf_counter())))
    event.listen(engine, "connect", lambda *_: marks.append(("connect", time.perf_counter())))
    try:
        login = log_in(engine, token, f"soak-{rater_id}")
        time.sleep(max(0.0, start_at - time.time()))
        previous: int | None = None
        while time.time() < stop_at:
            try:
                with read_session(engine) as s:
                    run_id = list_runs(s)[-1].id  # the soak's one run
                    item = next_item(s, rater_id, run_id, previous)  # a Next: the image and why it comes
                    rating_progress(s, rater_id)
                pages += 1
            except Exception as exc:  # noqa: BLE001 - the soak counts every failure by kind
                errors[f"read {error_kind(exc)}"] += 1
                continue
            if item is None:
                time.sleep(0.5)
                continue
            time.sleep(rng.uniform(0.3, 1.0))  # looking at the image
            roll = rng.random()
            if previous is not None and roll < 0.12:
                kind, sample_id = "undo", previous
            elif previous is not None and roll < 0.27:
                kind, sample_id = "edit", previous
            else:  # a silent repeat is saved apart, as the Rate page does (it never touches the first rating)
                kind, sample_id = ("repeat" if item.kind == "repeat" else "save"), item.item.sample_id
            scores = Scores(rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5))
            marks.clear()
            started = time.perf_counter()
            try:
                with write_session(engine) as s:
                    require_live(s, login.login_id)  # what the page's shared.writing() does first
                    if kind == "undo":
                        delete_rating(s, rater_id, sample_id)
                    elif kind == "repeat":
                        save_repeat(s, rater_id, sample_id, scores)
                    else:
                        save_rating(s, rater_id, sample_id, scores)
                ok, why = True, None
            except Exception as exc:  # noqa: BLE001
                ok, why = False, error_kind(exc)
                errors[f"{kind} {why}"] += 1
            elapsed = time.perf_counter() - started
            ops.append((kind, sample_id, (scores.generality, scores.emoji_style, scores.quality), ok, elapsed,
                        phases(started, started + elapsed, marks)))
            if kind != "repeat":
                previous = None if kind == "undo" else sample_id
    except Exception as exc:  # noqa: BLE001
        errors[f"rater crashed {error_kind(exc)}"] += 1
        traceback.print_exc()
    finally:
        engine.dispose()
        out.put({"role": "direct", "rater_id": rater_id, "ops": ops, "pages": pages, "errors": dict(errors)})


def phases(started: float, ended: float, marks: list[tuple[str, float]]) -> dict[str, float]:
    """One save's seconds: `checkout` from the pool (PostgreSQL: with its ping), `begin` up to the first
    statement (SQLite: waiting for the write lock), in `statements` (each a round trip; psycopg's
    BEGIN goes with the first), in `commit` (PostgreSQL: the WAL flush), and the `python` between."""
    sent = [t for kind, t in marks if kind == "sent"]
    answered = [t for kind, t in marks if kind == "answered"]
    commit = next((t for kind, t in marks if kind == "commit"), ended)
    if not sent or len(sent) != len(answered):
        return {}
    statements = sum(b - a for a, b in zip(sent, answered, strict=True))
    checkout = next((t for kind, t in marks if kind == "checkout"), started) - started
    begin = sent[0] - started - checkout
    return {"checkout": checkout, "begin": begin, "statements": statements, "commit": ended - commit,
            "python": max(0.0, (ended - started) - checkout - begin - statements - (ended - commit)),
            "connects": sum(1 for kind, _ in marks if kind == "connect")}


# ---- the sampler: a checkpoint with 64 images every 5 s -----------------------------------------------

def emoji_like(rng, size: int = 256):
    """A stand-in for a decoded 256 px sample: flat outlined shapes on white, slightly blurred,
    with the fine texture a VQGAN decoder leaves (about 90 KB as PNG, like real samples)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        (x, y), r = (int(v) for v in rng.integers(20, 200, 2)), int(rng.integers(20, 90))
        draw.ellipse([x - r // 2, y - r // 2, x + r, y + r], fill=tuple(int(c) for c in rng.integers(0, 256, 3)),
                     outline="black", width=3)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2))).astype(np.int16)
    return Image.fromarray((pixels + rng.integers(-3, 4, pixels.shape)).clip(0, 255).astype(np.uint8))


def variant(image, k: int):
    """The same picture as other PNG bytes (a text chunk after the header): each checkpoint's
    images are new rows, as a new checkpoint's samples are, without encoding them again."""
    import struct
    import zlib

    from db.images import prepare_png

    data = b"emojich\x00soak " + str(k).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return prepare_png(image.png[:33] + chunk + image.png[33:])  # 8-byte signature + 25-byte IHDR


def sampler(url: str, run_id: int, prompt_ids: list[int], pngs: list[bytes], start_at: float, stop_at: float,
            out) -> None:
    from db.engine import make_engine
    from db.images import prepare_png
    from db.samples import NewSample, write_checkpoint_with_samples

    engine = make_engine(url)
    txn_s, errors, written = [], Counter(), 0
    step = 1_000_000
    images = [prepare_png(png) for png in pngs]
    batches = [[NewSample(prompt_id=pid, seed=42, image=variant(image, k)) for pid, image in zip(prompt_ids, images, strict=True)]
               for k in range(int((stop_at - start_at) // SAMPLER_EVERY_S) + 1)]
    time.sleep(max(0.0, start_at - time.time()))
    next_at = time.time()
    while next_at < stop_at and batches:
        time.sleep(max(0.0, next_at - time.time()))
        next_at += SAMPLER_EVERY_S
        step += 6000
        batch = batches.pop()
        t1 = time.perf_counter()
        try:
            write_checkpoint_with_samples(engine, run_id, step, 1.0, None, batch)  # what the trainer calls
            written += 1
        except Exception as exc:  # noqa: BLE001
            errors[f"checkpoint {error_kind(exc)}"] += 1
        txn_s.append(time.perf_counter() - t1)
    engine.dispose()
    out.put({"role": "sampler", "written": written, "txn_s": txn_s, "errors": dict(errors),
             "kb": sum(len(n.prepared.png) for n in batch) / len(batch) / 1024 if written else 0})


# ---- browser raters (threads of the main process) ---------------------------------------------------

CPU_CGROUP = Path("/sys/fs/cgroup/cpu")


def cpu_group(name: str, shares: int) -> Path | None:
    """A cpu cgroup (v1) with `shares` (the server keeps 1024) for the browser clients or the batch job,
    or None where this machine has no writable one (or shares ≥ 1024: no group needed)."""
    if shares >= 1024:
        return None
    group = CPU_CGROUP / f"emojich-soak-{name}-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "cpu.shares").write_text(str(shares))
    except OSError:
        return None
    return group


def drop_cgroup(group: Path | None) -> None:
    if group is not None:
        try:
            group.rmdir()  # empty once every browser has exited
        except OSError:
            pass


def browser_rater(url: str, token: str, seed: int, start_at: float, stop_at: float, results: list,
                  group: Path | None = None) -> None:
    from playwright.sync_api import expect, sync_playwright

    if group is not None:  # this thread, and everything it starts (the driver, every Chromium), in the clients' group
        (group / "tasks").write_text(str(threading.get_native_id()))
    rng = random.Random(seed)
    record = {"role": "browser", "token": token, "saves": 0, "edits": 0, "undos": 0, "repeats": 0, "pages": 0,
              "latency": [], "errors": Counter()}
    progress = re.compile(r"(\d+) rated · \d+ to go")  # the Rate page's progress line
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_label("Access token").fill(token)
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("typed: · · ·").wait_for()

            def rated() -> int:
                return int(progress.search(page.get_by_text(progress).inner_text()).group(1))

            time.sleep(max(0.0, start_at - time.time()))
            while time.time() < stop_at:
                time.sleep(rng.uniform(0.3, 1.0))
                before = rated()
                roll = rng.random()
                started = time.perf_counter()
                try:
                    if roll < 0.1 and record["saves"] > record["undos"]:
                        page.keyboard.press("u")
                        page.get_by_text(re.compile(rf"^{before - 1} rated ·")).wait_for()
                        record["undos"] += 1
                    elif roll < 0.2 and record["saves"] > record["undos"]:
                        page.keyboard.press("b")
                        page.get_by_text("Showing your previous image").wait_for()
                        page.get_by_text("typed: · · ·").wait_for()
                        page.keyboard.type("".join(str(rng.randint(1, 5)) for _ in range(3)), delay=60)
                        page.get_by_text("Updated your earlier rating").wait_for()
                        record["edits"] += 1
                    else:
                        page.get_by_text("typed: · · ·").wait_for()
                        shown = page.locator("img.picture").get_attribute("src")
                        page.keyboard.type("".join(str(rng.randint(1, 5)) for _ in range(3)), delay=60)
                        # the next image replaces this one; a silent repeat is saved apart and adds nothing
                        # to the count (waiting for the count timed out on every repeat)
                        expect(page.locator("img.picture")).not_to_have_attribute("src", shown, timeout=120_000)
                        if rated() == before + 1:
                            record["saves"] += 1
                        else:
                            record["repeats"] += 1
                    record["latency"].append(time.perf_counter() - started)
                    record["pages"] += 1
                except Exception as exc:  # noqa: BLE001
                    record["errors"][f"browser {type(exc).__name__}"] += 1
                    page.reload()
                    page.get_by_text("typed: · · ·").wait_for()
            browser.close()
    except Exception as exc:  # noqa: BLE001
        record["errors"][f"browser crashed {type(exc).__name__}"] += 1
        traceback.print_exc()
    record["errors"] = dict(record["errors"])
    results.append(record)


# ---- set-up, the run, the checks ---------------------------------------------------------------------

def prepare(url: str, home: Path, raters: int) -> dict:
    import numpy as np

    from db.engine import make_engine, write_session
    from db.images import prepare_image
    from db.migrate import upgrade
    from tests.seed import seed_workbench
    from training.dataset import build_noto_dataset, register_dataset

    upgrade(url)
    engine = make_engine(url)
    with write_session(engine) as s:
        seeded = seed_workbench(s, run_name="soak", checkpoints=4, raters=raters, rate=False, masks=0,
                                dataset_items=0, comparisons_per_rater=0, image_size=64)
        tokens = {name: token for name, (_, token) in seeded.raters.items() if name != "admin"}
        ids = {name: rid for name, (rid, _) in seeded.raters.items() if name != "admin"}
    report = build_noto_dataset(home, name="soak-noto", size=64, limit=120, val_size=16, workers=1)
    register_dataset(engine, report.directory)
    engine.dispose()
    # The sampler's pictures, encoded here, before the clock: a trainer encodes on its own machine,
    # and on this shared box the encoding would starve the raters of CPU. The database sees the same.
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    pngs = [prepare_image(emoji_like(rng)).png for _ in seeded.prompt_ids]
    return {"run_id": seeded.run_id, "prompt_ids": seeded.prompt_ids, "tokens": tokens, "ids": ids, "pngs": pngs,
            "encode_s": time.perf_counter() - started}


def start_server(url: str, home: Path, command_for=None) -> tuple[subprocess.Popen, str]:
    """The workbench on a free local port, once its health endpoint answers. `command_for(port)`: another
    command to serve it with (default `emojich workbench`)."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "EMOJICH_DB": url, "EMOJICH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    command = (command_for(port) if command_for else
               [sys.executable, "-m", "workbench.cli", "workbench", "--port", str(port), "--headless", "--address", "127.0.0.1"])
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{server}/_stcore/health", timeout=1).status == 200:
                return proc, server
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the workbench did not start")


def segment_rounds(url: str, home: Path, stop_at: float, out: list, group: Path | None = None) -> None:
    env = {**os.environ, "EMOJICH_DB": url, "EMOJICH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "workbench.cli", "segment", "round", "--encoder", "resnet18", "--epochs", "1",
               "--image-size", "64", "--threads", "1", "--scratch", "--steps", "20"]
    while time.time() < stop_at - 10:
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              preexec_fn=None if group is None else lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
        out.append({"rc": done.returncode, "s": time.perf_counter() - started,
                    "tail": (done.stdout + done.stderr).strip().splitlines()[-1:] if done.returncode else []})


def check_ledgers(url: str, direct: list[dict], browsers: list[dict], ids: dict, tokens: dict) -> dict:
    from sqlalchemy import func, select

    from db.engine import make_engine, read_session
    from db.models import Rating

    engine = make_engine(url)
    with read_session(engine) as s:
        rows = s.execute(select(Rating.rater_id, Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality)).all()
        doubles = s.scalar(select(func.count()).select_from(
            select(Rating.rater_id, Rating.sample_id).group_by(Rating.rater_id, Rating.sample_id)
            .having(func.count() > 1).subquery()))
    engine.dispose()
    stored_rows = defaultdict(dict)
    for rater_id, sample_id, g, e, q in rows:
        stored_rows[rater_id][sample_id] = (g, e, q)
    duplicated = int(doubles or 0)  # two rows for one rater and image (the unique constraint forbids it)
    attempted = stored = lost = 0
    for record in direct:
        mine = stored_rows.get(record["rater_id"], {})
        last_ok: dict[int, tuple] = {}
        ops = [op for op in record["ops"] if op[0] != "repeat"]  # repeats go to rating_repeats, not ratings
        for index, (kind, sample_id, scores, ok, *_) in enumerate(ops):
            if kind != "undo":
                attempted += 1
            if ok:
                last_ok[sample_id] = (kind, scores, index)
        final_index = {sid: idx for sid, (_, _, idx) in last_ok.items()}
        for index, (kind, sample_id, scores, ok, *_) in enumerate(ops):
            if kind == "undo" or not ok:
                continue
            if final_index.get(sample_id) != index:
                stored += 1  # superseded by a later edit or undo that succeeded
            elif mine.get(sample_id) == scores:
                stored += 1
            else:
                lost += 1
        for sample_id, (kind, _, _) in last_ok.items():
            if kind == "undo" and sample_id in mine:
                duplicated += 1
        duplicated += sum(1 for sid in mine if sid not in last_ok)
    for record in browsers:
        name = next(n for n, t in tokens.items() if t == record["token"])
        expected = record["saves"] - record["undos"]
        have = len(stored_rows.get(ids[name], {}))
        attempted += record["saves"] + record["edits"]
        stored += record["saves"] + record["edits"] - max(0, expected - have)
        lost += max(0, expected - have)
        duplicated += max(0, have - expected)
    return {"attempted": attempted, "stored": stored, "lost": lost, "duplicated": duplicated}


def collect(procs, out, stop_at: float) -> list[dict]:
    """Each process reports once, when its time is up; one that died without reporting is an error."""
    import queue

    results: list[dict] = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if len(results) + len(dead) >= len(procs) or time.time() > stop_at + 300:
                results += [{"role": "crashed", "errors": {f"process crashed (exit {p.exitcode})": 1}} for p in dead]
                break
    for proc in procs:
        proc.join(timeout=30)
    return results


def soak(label: str, url: str, home: Path, args) -> str:
    print(f"\n=== {label}: preparing ({args.raters} raters, {args.browsers} of them in browsers)", flush=True)
    info = prepare(url, home, args.raters)
    names = sorted(info["tokens"])
    browser_names, direct_names = names[: args.browsers], names[args.browsers:]
    server = None
    if browser_names:
        server, server_url = start_server(url, home)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 45  # every process imported and logged in before the clock starts
    stop_at = start_at + args.seconds
    procs = [ctx.Process(target=direct_rater, args=(url, info["tokens"][n], info["ids"][n], i, start_at, stop_at, out))
             for i, n in enumerate(direct_names)]
    procs.append(ctx.Process(target=sampler, args=(url, info["run_id"], info["prompt_ids"], info["pngs"], start_at, stop_at, out)))
    for proc in procs:
        proc.start()
    browser_results: list[dict] = []
    group = cpu_group("clients", args.client_shares) if browser_names else None
    batch = cpu_group("batch", args.batch_shares) if not args.no_segment else None
    threads = [threading.Thread(target=browser_rater, args=(server_url, info["tokens"][n], 100 + i, start_at, stop_at,
                                                            browser_results, group)) for i, n in enumerate(browser_names)]
    rounds: list[dict] = []
    if not args.no_segment:
        threads.append(threading.Thread(target=lambda: (time.sleep(max(0, start_at - time.time())),
                                                        segment_rounds(url, home, stop_at, rounds, batch))))
    for t in threads:
        t.start()
    load_before = os.getloadavg()[0]
    try:
        results = collect(procs, out, stop_at)
        for t in threads:
            t.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_cgroup(group)
        drop_cgroup(batch)
    load_after = os.getloadavg()[0]

    direct = [r for r in results if r["role"] == "direct"]
    sampler_result = next((r for r in results if r["role"] == "sampler"),
                          {"written": 0, "txn_s": [], "kb": 0, "errors": {}})
    verdict = check_ledgers(url, direct, browser_results, info["ids"], info["tokens"])
    errors = Counter()
    for r in [*results, *browser_results]:
        errors.update(r["errors"])
    errors.update(f"segment round exit {r['rc']}" for r in rounds if r["rc"])
    saves = [op[4] * 1000 for r in direct for op in r["ops"] if op[0] != "undo" and op[3]]
    undos = [op[4] * 1000 for r in direct for op in r["ops"] if op[0] == "undo" and op[3]]
    clicks = [x * 1000 for r in browser_results for x in r["latency"]]
    seconds = args.seconds
    direct_pages = sum(r["pages"] for r in direct)
    browser_pages = sum(r["pages"] for r in browser_results)

    print(f"{label}: {seconds} s, {len(direct_names)} direct raters + {len(browser_names)} browser raters, "
          f"load average {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} cores")
    if not args.no_segment:
        print("  segment rounds: " + (f"cpu.shares {args.batch_shares} against the server's 1024 (cgroup {batch.name})"
                                      if batch is not None else "the same CPU share as the server"))
    if browser_names:
        print("  browser clients: " + (f"cpu.shares {args.client_shares} against the server's 1024 (cgroup {group.name})"
                                       if group is not None else "the same CPU share as the server (no client cgroup: "
                                       + ("--client-shares ≥ 1024)" if args.client_shares >= 1024 else
                                          "no writable cpu cgroup on this machine)")))
    print(f"  ratings: attempted {verdict['attempted']}, stored {verdict['stored']}, lost {verdict['lost']}, "
          f"duplicated {verdict['duplicated']} (edits {sum(1 for r in direct for op in r['ops'] if op[0] == 'edit')}"
          f" direct + {sum(r['edits'] for r in browser_results)} browser; undos {len(undos)} direct + "
          f"{sum(r['undos'] for r in browser_results)} browser)")
    print(f"  save latency (direct, login re-check + save, one transaction): p50 {percentile(saves, 50):.1f} ms, "
          f"p95 {percentile(saves, 95):.1f} ms, p99 {percentile(saves, 99):.1f} ms, max {max(saves, default=0):.1f} ms "
          f"({len(saves)} saves); undo p99 {percentile(undos, 99):.1f} ms")
    print("  " + where_time_goes([op for r in direct for op in r["ops"] if op[0] != "undo" and op[3]]))
    if clicks:
        print(f"  browser key press → next image shown: p50 {percentile(clicks, 50):.0f} ms, "
              f"p95 {percentile(clicks, 95):.0f} ms, p99 {percentile(clicks, 99):.0f} ms ({len(clicks)} actions)")
    print(f"  pages: {browser_pages / seconds:.2f}/s served to browsers (Streamlit reruns showing a new state), "
          f"{direct_pages / seconds:.1f}/s Rate-page reads by direct raters")
    txn = [t * 1000 for t in sampler_result["txn_s"]]
    print(f"  sampler: {sampler_result['written']} checkpoints × 64 images of {sampler_result['kb']:.0f} KB (encoding 64 "
          f"took {info['encode_s']:.1f} s, before the clock); writing one (images in ~0.5 MB transactions, then "
          f"the rows in one) p50 {percentile(txn, 50):.0f} ms, max {max(txn, default=0):.0f} ms")
    ok_rounds = [r for r in rounds if r["rc"] == 0]
    durations = ", ".join(f"{r['s']:.0f} s" for r in rounds)
    failure = next((r["tail"] for r in reversed(rounds) if r["rc"]), None)
    print(f"  segment rounds: {len(ok_rounds)} finished of {len(rounds)} ({durations})"
          + (f"; last failure: {failure}" if failure else ""))
    print(f"  errors by kind: {dict(errors) if errors else 'none'}")
    return (f"{label}: ratings attempted {verdict['attempted']}, stored {verdict['stored']}, lost {verdict['lost']}, "
            f"duplicated {verdict['duplicated']}, errors {sum(errors.values())}, p99 save {percentile(saves, 99):.0f} ms")


def where_time_goes(ops: list[tuple]) -> str:
    """The mean split of the slowest 1 % of saves against all of them."""
    timed = sorted((op for op in ops if op[5]), key=lambda op: op[4])
    if not timed:
        return "where a save's time goes: not measured"
    slow = timed[-max(1, len(timed) // 100):]

    def split(group: list[tuple]) -> str:
        ms = ", ".join(f"{key} {sum(op[5][key] for op in group) / len(group) * 1000:.1f}"
                       for key in ("checkout", "begin", "statements", "commit", "python"))
        return f"{ms} (new connections {sum(op[5]['connects'] for op in group)})"
    return f"where a save's time goes (mean ms): all {split(timed)}; slowest 1 % ({len(slow)}) {split(slow)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--browsers", type=int, default=3, help="how many of the raters use a real browser")
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--client-shares", type=int, default=102,
                        help="cpu.shares of the browser clients (the server's are 1024; ≥ 1024: no client cgroup)")
    parser.add_argument("--batch-shares", type=int, default=1024,
                        help="cpu.shares of the segment rounds (1024, the server's: no group; e.g. 102 to model a "
                             "U-Net on its own GPU machine)")
    parser.add_argument("--no-segment", action="store_true", help="leave out the segment rounds (database load only)")
    parser.add_argument("--faults", action="store_true", help="then run bench/soak_faults.py (SIGKILL trials)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    lines = []
    for label in args.db:
        home = Path(tempfile.mkdtemp(prefix=f"emojich-soak-{label}-"))
        server = None
        try:
            if label == "sqlite":
                url = f"sqlite:///{home / 'emojich.db'}"
            else:
                from tests.pg_server import PostgresServer

                server = PostgresServer(fsync=True, max_connections=200)  # durable, as in production
                url = server.start()
            lines.append(soak(label, url, home, args))
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(home, ignore_errors=True)
    print()
    for line in lines:
        print(line)
    faults = ROOT / "bench" / "soak_faults.py"
    if args.faults:
        if not faults.exists():
            print("bench/soak_faults.py is not here yet: no fault trials run")
            return 1
        return subprocess.run([sys.executable, str(faults)], cwd=ROOT).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
