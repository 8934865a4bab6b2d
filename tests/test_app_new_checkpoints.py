"""Checkpoints that a running fine-tune commits while the workbench serves show up without a restart:
Rate, Grid, Compare and Checkpoints see the new samples on their next run, well inside the query TTL."""
from __future__ import annotations

import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from db.engine import write_session
from db.samples import NewSample, add_checkpoint_with_samples
from tests.seed import draw_sample
from workbench.app.app_pages.shared import QUERY_TTL_S

SOON_S = 1.5  # a new checkpoint must show up this soon (the data-version check runs at most once a second)

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app" / "app.py")


def _to_go(at: AppTest) -> int:
    """The Rate page's "N rated · M to go": M, the images this rater's queue holds now."""
    text = at.get("progress")[0].proto.text
    match = re.fullmatch(r"0 rated · (\d+) to go", text)
    assert match, text
    return int(match.group(1))


def _add_checkpoint(engine, run_id: int, prompt_ids: list[int], step: int) -> None:
    with write_session(engine) as s:
        new = [NewSample(prompt_id=pid, seed=42, image=draw_sample(i, step, step, 42)) for i, pid in enumerate(prompt_ids)]
        add_checkpoint_with_samples(s, run_id, step, step / 1000.0, None, new)


def _images_with_caption(at: AppTest, text: str) -> int:
    return sum(text in (img.caption or "") for element in at.get("image") for img in element.proto.imgs)


def _page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_a_checkpoint_committed_while_serving_appears_on_every_page(app_env, engine, seeded):
    assert SOON_S * 10 < QUERY_TTL_S  # the point: much sooner than the query cache would expire
    _, token = seeded.admin
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="login.token").input(token)
    at.button[0].click().run()
    before = _to_go(at)
    assert before > 0
    assert len(_page(at, "grid").selectbox(key="grid.letter").options) == 4
    assert len(_page(at, "compare").dataframe[0].value) == 4  # Bradley–Terry table: one row per checkpoint
    assert _images_with_caption(_page(at, "checkpoints"), "step ") == 4  # one prompt across the checkpoints

    new_step = seeded.steps[-1] + 6000  # the fine-tune's next checkpoint, committed while the app serves
    _add_checkpoint(engine, seeded.run_id, seeded.prompt_ids, new_step)
    time.sleep(SOON_S)

    assert _to_go(_page(at, "rate")) > before  # the new checkpoint's images joined the queue
    assert len(_page(at, "grid").selectbox(key="grid.letter").options) == 5
    assert len(_page(at, "compare").dataframe[0].value) == 5
    assert _images_with_caption(_page(at, "checkpoints"), f"step {new_step}") == 1
