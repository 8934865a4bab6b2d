"""The app's logins (AppTest): a token reset or a logout elsewhere refuses the next write on every
page at once, with a message and nothing saved; refused logins say why and how long to wait."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from db.engine import read_session, write_session
from db.login_sessions import end_rater_sessions
from db.models import Comparison, Decision, LoginSession, Mask, Rating
from db.raters import reset_token
from tests.apptest_browser import rate_command
from tests.test_app import messages, rate, start


def _count(engine, model, *where) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _reset(engine, name):
    with write_session(engine) as s:
        reset_token(s, name)


def _logged_out_elsewhere(engine, rater_id):
    with write_session(engine) as s:
        end_rater_sessions(s, rater_id)


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _on_the_login_screen(at) -> bool:
    return [t.value for t in at.title] == ["Emojich Workbench"] and "login.token" in [w.key for w in at.text_input]


def test_a_token_reset_refuses_the_next_rating_and_undo(app_env, engine, fresh_seeded):
    rater_id, token = fresh_seeded.raters["rater1"]
    at = start(token)
    rate(at, 4, 4, 4)
    assert _count(engine, Rating) == 1
    other = start(token)  # the same rater in a second tab
    _reset(engine, "rater1")
    rate(at, 2, 3, 1)  # the next save: refused
    assert "your login has ended" in messages(at) and "nothing was saved" in messages(at)
    assert _on_the_login_screen(at) and _count(engine, Rating) == 1
    rate_command(other, "undo")  # the other tab: refused too
    assert "your login has ended" in messages(other) and _count(engine, Rating) == 1
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(LoginSession)) == 0


@pytest.mark.parametrize("page", ["compare", "grid", "masks", "checkpoints"])
def test_every_page_refuses_writes_after_a_logout_elsewhere(app_env, engine, seeded, page):
    admin_id, token = seeded.admin
    at = start(token)
    at.switch_page(f"app_pages/{page}.py").run()
    before = {m: _count(engine, m) for m in (Rating, Comparison, Mask, Decision)}
    _logged_out_elsewhere(engine, admin_id)
    if page == "compare":
        at.button(key="compare.left").click().run()
    elif page == "grid":  # saving flags (none ticked) is still a write
        _button(at, "Save artifact flags").click().run()
    elif page == "masks":
        at.button(key="masks.accept").click().run()
    else:
        at.text_input(key="checkpoints.reason").input("earliest within one SE")
        _button(at, "Choose this checkpoint").click().run()
    text = messages(at)
    assert "login has ended" in text, text
    assert _on_the_login_screen(at)
    assert {m: _count(engine, m) for m in before} == before


def test_masks_reject_after_token_reset_saves_nothing(app_env, engine, seeded):
    rater_id, token = seeded.raters["rater2"]
    at = start(token)
    at.switch_page("app_pages/masks.py").run()
    _reset(engine, "rater2")
    at.button(key="masks.reject").click().run()
    assert "your login has ended" in messages(at)
    assert _count(engine, Mask, Mask.source == "manual") == 0


def test_a_page_run_notices_the_login_ended(app_env, engine, fresh_seeded):
    rater_id, token = fresh_seeded.raters["rater2"]
    at = start(token)
    _logged_out_elsewhere(engine, rater_id)
    at.run()  # any interaction: the page asks for the token again
    assert _on_the_login_screen(at) and "Your login has ended" in messages(at)
    at.text_input(key="login.token").input(token)
    at.button[0].click().run()
    assert [t.value for t in at.title] == ["Rate"]  # the same token still works: only the login ended


def test_repeated_wrong_tokens_are_delayed_and_the_page_says_so(app_env, engine, fresh_seeded):
    rater_id, token = fresh_seeded.raters["rater1"]
    at = start(None)
    for _ in range(3):
        at.text_input(key="login.token").input(f"emj_{rater_id}_wrong")
        at.button[0].click().run()
        assert "unknown or revoked access token" in messages(at)
    at.text_input(key="login.token").input(token)
    at.button[0].click().run()
    assert "Login refused: too many failed logins" in messages(at) and "before trying again" in messages(at)
    assert _on_the_login_screen(at)


def test_a_deleted_mask_sample_is_not_a_login_problem(app_env, engine, seeded):
    """Ordinary errors still read as before (the login check does not hide them)."""
    rater_id, token = seeded.raters["rater1"]
    at = start(token)
    at.switch_page("app_pages/masks.py").run()
    sid = next(iter(at.session_state["masks.work"]))
    at.session_state["masks.work"][sid] = np.zeros_like(at.session_state["masks.work"][sid])
    at.button(key="masks.accept").click().run()
    assert "the mask is empty" in messages(at) and not _on_the_login_screen(at)
