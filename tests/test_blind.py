"""Blind by construction: everything a rater's session receives, on every page it can reach,
carries no run, checkpoint, step, sample id or image hash, and no other rater's name; images come
under per-view names (never the same twice) and inline images carry no metadata."""
from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToJson
from PIL import Image
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db.engine import read_session, write_session
from db.grid_ratings import save_grid_rating
from db.models import Checkpoint, Sample
from db.ratings import Scores
from db.reference_examples import add_example
from tests.apptest_browser import component_data, rate, rate_command
from tests.blind_checks import assert_blind, keys_of, media_names

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app" / "app.py")
RATER_PAGES = ["rate", "grid", "compare", "masks", "dataset"]
ADMIN_PAGES = ["checkpoints", "rater_quality", "stickers"]


@pytest.fixture
def received(monkeypatch):
    """Every ForwardMsg the app sends (AppTest builds its element tree from the same messages)."""
    import streamlit.testing.v1.local_script_runner as runner

    messages: list[str] = []
    parse = runner.parse_tree_from_messages

    def capture(msgs):
        messages.extend(MessageToJson(m) for m in msgs)
        return parse(msgs)

    monkeypatch.setattr(runner, "parse_tree_from_messages", capture)
    return messages


def log_in(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="login.token").input(token)
    at.button[0].click().run()
    return at


def visit_pages(at: AppTest, tables: list[str]) -> None:
    """Open every page, the admin ones too where the app lets a rater (it must not)."""
    for page in RATER_PAGES + ADMIN_PAGES:
        try:
            at.switch_page(f"app_pages/{page}.py")
        except ValueError:  # not in this rater's navigation: a deep link lands on Rate
            assert page in ADMIN_PAGES
            continue
        at.run()
        tables.extend(df.value.to_csv() for df in at.dataframe)  # Arrow bytes are opaque in the JSON


def use_pages(at: AppTest) -> None:
    """Use every page a rater has, the way a rater would: more views of more images."""
    at.switch_page("app_pages/rate.py").run()
    rate(at, 4, 3, 5)
    rate_command(at, "skip")
    rate_command(at, "back")
    rate(at, 2, 2, 2)
    at.switch_page("app_pages/grid.py").run()
    next(c for c in at.checkbox if c.key.startswith("grid.flag.")).check()
    next(b for b in at.button if b.label == "Save artifact flags").click().run()
    at.selectbox(key="grid.letter").set_value(at.selectbox(key="grid.letter").options[1].removeprefix("Grid ")).run()
    at.switch_page("app_pages/compare.py").run()
    at.button(key="compare.left").click().run()
    at.switch_page("app_pages/rate.py").run()
    assert not at.exception


def test_a_raters_session_carries_no_run_checkpoint_step_or_sample(app_env, engine, seeded, received):
    admin_id = seeded.admin[0]
    with write_session(engine) as s:  # things a rater could otherwise see: examples, a grid score of another rater
        add_example(s, admin_id, "emoji_style", 5, seeded.sample_ids[200])
        add_example(s, admin_id, "quality", 1, seeded.sample_ids[3])
        save_grid_rating(s, seeded.raters["rater2"][0], seeded.checkpoint_ids[1], Scores(3, 3, 3))
    with read_session(engine) as s:
        shas = set(s.scalars(select(Sample.image_sha256)))
        sample_ids = set(s.scalars(select(Sample.id)))
        checkpoint_ids = set(s.scalars(select(Checkpoint.id)))
        paths = set(s.scalars(select(Checkpoint.path)))

    tables: list[str] = []
    at = log_in(seeded.token("rater1"))
    start = len(received)
    visit_pages(at, tables)
    assert_blind(received[start:], tables, seeded, shas, paths)
    use_pages(at)
    first_session = received[start:]
    data = component_data(at, "rate.input")
    assert set(data) == {"token", "image", "prompt", "criteria", "levels"} and not data["token"].isdigit()
    assert not re.search(r"sample|checkpoint|step", json.dumps(list(keys_of(data))), re.IGNORECASE)
    inline = Image.open(io.BytesIO(base64.b64decode(data["image"].split(",", 1)[1])))
    assert inline.format == "PNG" and not getattr(inline, "text", {})  # pixels only

    again = log_in(seeded.token("rater1"))  # a reload: a new session, the same images again
    mark = len(received)
    again.switch_page("app_pages/grid.py").run()
    second_session = received[mark:]
    assert_blind(first_session + second_session, tables, seeded, shas, paths)
    # every image file a rater loads has a name of its own: the same grid in two sessions shares none
    names_first, names_second = media_names(first_session), media_names(second_session)
    assert len(names_second) >= 64 and not names_first & names_second
    assert not {str(i) for i in sample_ids | checkpoint_ids} & names_first


def test_admins_still_see_steps(app_env, seeded, received):
    at = log_in(seeded.admin[1]).switch_page("app_pages/grid.py").run()
    assert any("step" in option for option in at.selectbox(key="grid.letter").options)
    assert "step 6000" in json.dumps(received)
