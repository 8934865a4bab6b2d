"""Two app servers on one PostgreSQL database, as behind a load balancer, in a real browser (Debian
Chromium through Playwright): log in on one, continue on the other without a token; reset the
token, and the next write on either is refused, in every open tab, with nothing saved."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from db.engine import make_engine, read_session, write_session
from db.migrate import downgrade, upgrade
from db.models import Rating
from db.raters import reset_token
from tests.seed import seed_workbench
from tests.test_browser import ARTIFACTS, CHROMIUM_ARGS, remembered_cookie, start_workbench, stop_workbench

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
expect.set_options(timeout=30_000)


@pytest.fixture
def two_servers(pg_url):
    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    with write_session(engine) as s:
        seeded = seed_workbench(s, checkpoints=2, prompts=8, raters=2, rate=False, image_size=16, masks=0,
                                dataset_items=0, comparisons_per_rater=0)
    servers = []
    try:
        for _ in range(2):
            servers.append(start_workbench(pg_url))
        yield engine, seeded, [url for _, url in servers]
    finally:
        for proc, _ in servers:
            stop_workbench(proc)
        engine.dispose()


def _ratings(engine) -> list[tuple]:
    with read_session(engine) as s:
        return s.execute(select(Rating.rater_id, Rating.generality, Rating.emoji_style, Rating.quality).order_by(Rating.id)).all()


def _ready_to_type(page) -> None:
    expect(page.get_by_role("heading", name="Rate")).to_be_visible()
    expect(page.get_by_text("typed: · · ·")).to_be_visible()


def test_login_on_one_server_continue_on_the_other_reset_ends_both(two_servers):
    engine, seeded, (first, second) = two_servers
    rater_id, token = seeded.raters["rater1"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1100})
        page = context.new_page()
        page.goto(first)
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Log in").click()
        _ready_to_type(page)
        page.keyboard.type("452", delay=80)
        expect(page.get_by_text("1 rated ·")).to_be_visible()
        for _ in range(100):  # the browser trades the one-time code for its HttpOnly cookie
            if remembered_cookie(page):
                break
            page.wait_for_timeout(100)
        assert remembered_cookie(page)["httpOnly"]

        page.goto(second)  # the other server: logged in from the cookie, no token asked
        _ready_to_type(page)
        expect(page.get_by_label("Access token")).to_have_count(0)
        expect(page.get_by_text("1 rated ·")).to_be_visible()
        page.keyboard.type("313", delay=80)
        expect(page.get_by_text("2 rated ·")).to_be_visible()
        assert _ratings(engine) == [(rater_id, 4, 5, 2), (rater_id, 3, 1, 3)]

        tab = context.new_page()  # a second tab, on the first server
        tab.goto(first)
        _ready_to_type(tab)
        page.screenshot(path=str(ARTIFACTS / "replica-before-reset.png"), full_page=True)

        with write_session(engine) as s:
            reset_token(s, "rater1")  # `emojich raters reset-token rater1`
        for current in (page, tab):  # the next write on either server is refused
            current.bring_to_front()
            current.get_by_role("heading", name="Rate").click()
            current.keyboard.type("555", delay=80)
            expect(current.get_by_text("your login has ended", exact=False)).to_be_visible()
            expect(current.get_by_label("Access token")).to_be_visible()
        tab.screenshot(path=str(ARTIFACTS / "replica-after-reset.png"), full_page=True)
        assert _ratings(engine) == [(rater_id, 4, 5, 2), (rater_id, 3, 1, 3)]

        page.goto(second)  # a reload does not bring the login back either
        expect(page.get_by_label("Access token")).to_be_visible()
        browser.close()
