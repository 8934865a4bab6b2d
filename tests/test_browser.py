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
from google.protobuf.json_format import MessageToJson
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
        expect(page.get_by_text("3 rated ·")).to_be_visible()
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
        expect(page.get_by_text("3 rated ·")).to_be_visible()
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


def ratings(engine) -> list[tuple]:
    with read_session(engine) as s:
        return s.execute(select(Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality).order_by(Rating.id)).all()


def skips(engine) -> set[int]:
    from db.models import RatingSkip

    with read_session(engine) as s:  # a new session each time: a reader keeps its snapshot
        return set(s.scalars(select(RatingSkip.sample_id)))


def test_browser_rating_input_cannot_go_astray_and_stays_blind(server, engine, fresh_seeded):
    """Issue 15 in the browser: keys only while Rate is on screen; mouse and keys fill the same
    slots; fast skips all count and survive a reload; an older tab cannot score another image; the
    image is large and sharp; nothing the rater's browser receives names a run, step or sample."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from tests.blind_checks import assert_blind, media_names

    ARTIFACTS.mkdir(exist_ok=True)
    rater_id, token = fresh_seeded.raters["rater1"]
    frames: list[str] = []
    urls: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("request", lambda request: urls.append(request.url))
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda payload: frames.append(MessageToJson(ForwardMsg.FromString(payload)))
            if isinstance(payload, bytes) else None))
        page.goto(server)
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("typed: · · ·")).to_be_visible()

        # 1. keys typed on other pages never reach Rate
        page.get_by_role("link", name="Grid").click()
        expect(page.get_by_role("heading", name="Grid")).to_be_visible()
        # the whole grid is on screen (a starved machine sends its 64 tiles over seconds; leaving earlier
        # would cut the page run short and the check of their media names below would see fewer)
        expect(page.get_by_role("button", name="Save artifact flags")).to_be_visible()
        page.keyboard.type("213", delay=60)
        page.get_by_role("link", name="Dataset").click()
        expect(page.get_by_role("heading", name="Dataset")).to_be_visible()
        page.keyboard.type("444", delay=60)
        page.get_by_role("link", name="Rate").click()
        expect(page.get_by_text("typed: · · ·")).to_be_visible()
        page.wait_for_timeout(1500)  # time for anything buffered to arrive (nothing should)
        assert ratings(engine) == [] and page.get_by_text("Saved:").count() == 0

        # 2. mouse and keys fill the same three slots: click 2, type 3 4 → 2/3/4; the 1 goes to the next image
        page.get_by_role("button", name="2 · weak").click()
        expect(page.get_by_text("typed: 2 · ·")).to_be_visible()
        page.keyboard.type("341", delay=60)
        expect(page.get_by_text("Saved: generality 2, emoji style 3, quality 4")).to_be_visible()
        expect(page.get_by_text("typed: 1 · ·")).to_be_visible()
        assert [r[1:] for r in ratings(engine)] == [(2, 3, 4)]
        page.keyboard.press("Escape")
        expect(page.get_by_text("typed: · · ·")).to_be_visible()

        # 3. five S presses 60 ms apart are five skips, and a reload remembers them
        for _ in range(5):
            page.keyboard.press("s")
            page.wait_for_timeout(60)
        deadline = time.monotonic() + 30  # each skip is one round trip, sent in turn
        while len(skipped := skips(engine)) < 5 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(skipped) == 5
        page.reload()
        expect(page.get_by_text("typed: · · ·")).to_be_visible()
        page.keyboard.type("555", delay=60)
        expect(page.get_by_text("2 rated ·")).to_be_visible()
        assert ratings(engine)[-1][0] not in skipped

        # 4. an older tab cannot score another image: both show X, A rates it, B's clicks are refused
        other = context.new_page()
        other.goto(server)
        expect(other.get_by_text("typed: · · ·")).to_be_visible()
        picture = page.locator("img.picture")
        assert other.locator("img.picture").get_attribute("src") == picture.get_attribute("src")  # the same image
        page.keyboard.type("333", delay=60)
        expect(page.get_by_text("3 rated ·")).to_be_visible()
        for _ in range(3):
            other.get_by_role("button", name="1 · poor").click()
        expect(other.get_by_text("rated meanwhile (in another tab or window)")).to_be_visible()
        assert [r[1:] for r in ratings(engine)] == [(2, 3, 4), (5, 5, 5), (3, 3, 3)]  # no 1/1/1 anywhere
        other.screenshot(path=str(ARTIFACTS / "rate-stale-tab.png"))
        other.close()

        # 5. a view to judge from: the image at least 512 px at 1366×768 and wholly on screen, a PNG
        # sent inline, enlarged nearest-neighbour
        expect(picture).to_be_visible()
        expect(picture).to_have_css("image-rendering", "pixelated")  # set once the 64 px PNG is in
        box = picture.bounding_box()
        assert box["width"] >= 512 and box["height"] >= 512 and box["y"] + box["height"] <= 768
        assert picture.get_attribute("src").startswith("data:image/png;base64,")
        page.screenshot(path=str(ARTIFACTS / "rate-1366.png"))
        html = page.content()
        browser.close()

    # 6. blind in the browser too: the frames received, the pages' HTML, the URLs loaded
    with read_session(engine) as s:
        from db.models import Checkpoint

        shas = set(s.scalars(select(Sample.image_sha256)))
        paths = set(s.scalars(select(Checkpoint.path)))
    after_login = frames[next(i for i, f in enumerate(frames) if "typed" in f or "rate.input" in f) :]
    assert_blind(after_login, [html, *urls], fresh_seeded, shas, paths)
    assert not any(sha in url for url in urls for sha in shas)
    assert len(media_names(after_login)) >= 64  # the grid's images, each under a per-view name
