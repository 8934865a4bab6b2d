"""The workbench's Bot page (admins): traffic, queue, answer time, failures, most-picked captions, picks."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from db.engine import write_session
from db.jobs import CandidateResult, Limits, add_job, claim_job, complete_job, fail_attempt, mark_delivered
from db.models import GenerationJob, utcnow
from db.raters import add_rater
from db.sticker_sets import add_pick, add_set
from workbench.app.app_pages.shared import CurrentRater

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app" / "app.py")
MANY = Limits(100, 100, 100)


def _candidate(colour) -> CandidateResult:
    image = Image.new("RGB", (16, 16), "white")
    image.paste(colour, (4, 4, 12, 12))
    rgba = image.convert("RGBA")
    mask = Image.new("L", (16, 16), 0)
    mask.paste(255, (4, 4, 12, 12))
    rgba.putalpha(mask)
    return CandidateResult(seed=1, perplexity=2.0, image=image, rgba=rgba, mask=mask, mask_source="contour")


def _traffic(engine) -> None:
    with write_session(engine) as s:
        for user, prompt in ((1, "кот"), (2, "кот"), (3, "пес")):
            job = add_job(s, user_id=user, chat_id=user, prompt=prompt, limits=MANY)
            claim = claim_job(s, "w", 60)
            results = [_candidate((200, 10 * user, 0)), _candidate((0, 10 * user, 200))]
            results = [CandidateResult(**{**r.__dict__, "seed": job.id * 10 + i}) for i, r in enumerate(results)]
            candidate_ids = complete_job(s, claim.job_id, claim.token, 8, results)
            s.get(GenerationJob, job.id).created_at = utcnow() - timedelta(seconds=10 * user)
            mark_delivered(s, job.id)
            if prompt == "кот":
                sticker_set = add_set(s, user, 1, f"emojich_{user}_by_b_bot", "t")
                add_pick(s, candidate_id=candidate_ids[0], set_id=sticker_set.id, user_id=user, status="added",
                         emoji="🐱")
        broken = add_job(s, user_id=9, chat_id=9, prompt="мышь", limits=MANY)
        claim = claim_job(s, "w", 60)
        s.get(GenerationJob, broken.id).attempts = 3
        fail_attempt(s, claim.job_id, claim.token, "RuntimeError: CUDA out of memory")
        add_job(s, user_id=10, chat_id=10, prompt="сова", limits=MANY)
        _, token = add_rater(s, "boss", is_admin=True)
        _, plain = add_rater(s, "plain")
    return token, plain


def test_bot_page_for_admins(app_env, engine, tmp_path):
    from tests.fixtures_generation import release

    release(engine, tmp_path / "step_0.pt")  # the page reads rows only: no model file needed
    token, plain = _traffic(engine)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="login.token").input(token)
    at.button[0].click().run()
    at.switch_page("app_pages/bot.py").run()
    assert [t.value for t in at.title] == ["Bot"] and not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Requests, last 30 days"] == "5" and metrics["Queue"] == "1 waiting"
    assert metrics["Failed requests"] == "1" and metrics["Median time to answer"].endswith(" s")
    captions, failures = at.dataframe[0].value, at.dataframe[1].value
    assert list(captions["caption"]) == ["кот"] and list(captions["picks"]) == [2]
    assert "CUDA out of memory" in failures["error"][0]
    assert sorted(str(c.value) for c in at.caption if "· sample" in str(c.value))[0].startswith("кот · sample")
    assert len([c for c in at.caption if "· sample" in str(c.value)]) == 2  # the two picked stickers

    rater = AppTest.from_file(APP, default_timeout=60)
    rater.run()
    rater.text_input(key="login.token").input(plain)
    rater.button[0].click().run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in a rater's navigation
        rater.switch_page("app_pages/bot.py")
    direct = AppTest.from_file(APP.replace("app.py", "app_pages/bot.py"), default_timeout=60)
    direct.session_state["auth.login_id"] = 99  # a page run on its own, as a logged-in rater
    direct.session_state["auth.rater"] = CurrentRater(99, "plain", False)
    direct.run()
    assert [i.value for i in direct.info] == ["The Bot page is for admins."] and not direct.dataframe
