"""A real browser: `emojich workbench` in a subprocess, Debian Chromium through Playwright.

Logs in, rates one image with three key presses, stays logged in across a reload and a deep link,
fixes a mask with a click and accepts it with the keyboard, logs out (a reload then asks for the
token again), checks the database after each, and saves screenshots under tests/artifacts/.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from db.engine import read_session
from db.images import get_image
from db.models import Mask, Rating, Sample
from workbench.app import mask_edit
from workbench.app.session_routes import COOKIE_NAME

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)  # two shared cores: a rerun can take a few seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_workbench(db_url: str):
    """`emojich workbench` in a subprocess (this tree's code); returns (process, url) once healthy."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "workbench", "--port", str(port), "--headless", "--address", "127.0.0.1"],
        env={**os.environ, "EMOJICH_DB": db_url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_workbench(proc)
                raise RuntimeError(f"workbench did not start: {proc.stdout.read().decode()[-2000:]}") from None
            time.sleep(0.3)


def stop_workbench(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def server(home, db_url, fresh_seeded):
    proc, url = start_workbench(db_url)
    try:
        yield url
    finally:
        stop_workbench(proc)


def remembered_cookie(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == COOKIE_NAME), None)


def test_browser_login_rate_by_keyboard_and_fix_a_mask(server, engine, fresh_seeded):
    ARTIFACTS.mkdir(exist_ok=True)
    rater_id, token = fresh_seeded.raters["rater2"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(30_000)
        page.goto(server)
        page.get_by_label("Access token").fill("emj_1_wrong")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("unknown or revoked access token")).to_be_visible()
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Rate")).to_be_visible()
        expect(page.get_by_text("▶ Generality")).to_be_visible()
        expect(page.get_by_text("typed: · · ·")).to_be_visible()  # the keyboard listener is ready
        page.screenshot(path=str(ARTIFACTS / "rate.png"), full_page=True)
        page.keyboard.type("452", delay=80)  # three keys: one image
        expect(page.get_by_text("Saved: generality 4, emoji style 5, quality 2")).to_be_visible()
        page.keyboard.type("314135", delay=80)  # two more images typed fast, without waiting
        expect(page.get_by_text("3 / 192 rated")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "rate-after-save.png"), full_page=True)
        with read_session(engine) as s:
            rows = s.execute(
                select(Rating.rater_id, Rating.generality, Rating.emoji_style, Rating.quality).order_by(Rating.id)
            ).all()
        assert rows == [(rater_id, 4, 5, 2), (rater_id, 3, 1, 4), (rater_id, 1, 3, 5)]

        cookie = remembered_cookie(page)
        assert cookie is not None and cookie["expires"] == -1 and cookie["sameSite"] == "Strict"  # a session cookie
        assert cookie["path"] == "/" and len(cookie["value"]) >= 40 and token not in cookie["value"]
        assert cookie["httpOnly"] and COOKIE_NAME not in page.evaluate("document.cookie")  # set by the server, not JS
        page.reload()  # a new Streamlit session in the same browser session: still logged in
        expect(page.get_by_text("3 / 192 rated")).to_be_visible()
        expect(page.get_by_role("heading", name="Rate")).to_be_visible()
        expect(page.get_by_label("Access token")).to_have_count(0)

        page.goto(f"{server}/masks")  # a deep link in the same tab: no token asked either
        expect(page.get_by_role("heading", name="Masks")).to_be_visible()
        expect(page.get_by_label("Access token")).to_have_count(0)
        frame = page.frame_locator("iframe[title*='streamlit_image_coordinates']")
        picture = frame.locator("img#image")
        expect(picture).to_be_visible()
        box = picture.bounding_box()
        with read_session(engine) as s:
            queued = s.scalars(select(Mask).where(Mask.source == "contour").order_by(Mask.id)).first()
            sample = s.get(Sample, queued.sample_id)
            rgb = mask_edit.as_rgb(get_image(s, sample.image_sha256))
            suggestion = mask_edit.as_mask(get_image(s, queued.image_sha256))
        # the contour suggestion swallowed the top-left corner: click it to remove that region
        picture.click(position={"x": 12, "y": 12})
        x, y = mask_edit.scale_point(12, 12, (int(box["width"]), int(box["height"])), (rgb.shape[1], rgb.shape[0]))
        expected = mask_edit.click_edit(suggestion, rgb, x, y, "toggle", 24)
        assert suggestion[y, x] == 255 and expected[y, x] == 0
        expect(page.get_by_text("1 edit so far")).to_be_visible()  # the click's rerun is done
        page.screenshot(path=str(ARTIFACTS / "masks-after-click.png"), full_page=True)

        # a brush stroke (add) across the bottom of the image, then apply it
        canvas = page.locator("canvas").last
        canvas.scroll_into_view_if_needed()
        expect(canvas).to_be_visible()
        area = canvas.bounding_box()
        row = 0.9  # 90 % of the way down: below the shape, where the mask is empty
        page.mouse.move(area["x"] + 0.05 * area["width"], area["y"] + row * area["height"])
        page.mouse.down()
        for k in range(1, 21):
            page.mouse.move(area["x"] + (0.05 + 0.045 * k) * area["width"], area["y"] + row * area["height"], steps=2)
        page.mouse.up()
        apply = page.get_by_role("button", name="Apply brush strokes")
        expect(apply).to_be_enabled()
        apply.click()
        expect(page.get_by_text("2 edits so far")).to_be_visible()
        page.get_by_role("heading", name="Masks").click()  # focus back on the page, out of the iframe
        page.keyboard.press("a")  # accept and next
        expect(page.get_by_text("Accepted: stored as a manual mask")).to_be_visible()
        with read_session(engine) as s:
            manual = s.scalars(select(Mask).where(Mask.source == "manual")).one()
            stored = mask_edit.as_mask(get_image(s, manual.image_sha256))
        assert manual.sample_id == sample.id and manual.rater_id == rater_id and manual.status == "accepted"
        added = (stored > 0) & (expected == 0)
        assert np.array_equal(stored[expected > 0], expected[expected > 0])  # the click's fix is kept
        rows = np.nonzero(added.any(axis=1))[0]
        assert added.sum() > 20 and abs(rows.mean() - row * rgb.shape[0]) < 4  # the stroke, where it was drawn

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_label("Access token")).to_be_visible()
        page.reload()  # logged out: the cookie is gone and the server forgot the session
        expect(page.get_by_label("Access token")).to_be_visible()
        assert remembered_cookie(page) is None
        page.context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "sameSite", "httpOnly")}])
        page.reload()  # the old id brought back by hand: the server forgot it at logout
        expect(page.get_by_label("Access token")).to_be_visible()
        browser.close()
