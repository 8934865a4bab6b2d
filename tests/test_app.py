"""The Streamlit app driven by AppTest against the temp database: login, every page, the writes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.engine import read_session, write_session
from db.models import ArtifactFlag, Comparison, Decision, GridRating, Mask, Rating, RatingSkip, Sample
from tests.apptest_browser import component_data, rate, rate_command

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app" / "app.py")


def start(token: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if token is not None:
        at.text_input(key="login.token").input(token)
        at.button[0].click().run()
    return at


def count(engine, model, *where) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def shown(markdown: str) -> str:
    """What a markdown body displays once backslash escapes are resolved (user text is escaped)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def messages(at) -> str:
    return " | ".join(shown(str(m.value)) for kind in (at.error, at.warning, at.success, at.info, at.toast) for m in kind)


def shown_sample(at) -> int:
    return at.session_state["rate.view"].sample_id  # server side only: the browser gets a token


def test_missing_and_wrong_tokens_get_clear_messages(app_env, fresh_seeded):
    at = start("")
    assert "Login failed: enter the access token" in messages(at)
    at.text_input(key="login.token").input("emj_1_not-the-token")
    at.button[0].click().run()
    assert "unknown or revoked access token" in messages(at)
    assert [t.value for t in at.title] == ["Emojich Workbench"]  # still the login screen


def test_rate_saves_a_row_edits_it_and_undoes(app_env, engine, fresh_seeded):
    rater_id, token = fresh_seeded.raters["rater1"]
    at = start(token)
    assert [t.value for t in at.title] == ["Rate"]
    page_text = " ".join(str(m.value) for m in at.markdown)
    assert "step" not in page_text.lower() and "seed-run" not in page_text  # blind
    first = shown_sample(at)
    rate(at, 4, 5, 3)
    assert "Saved: generality 4, emoji style 5, quality 3" in messages(at)
    assert count(engine, Rating) == 1
    assert shown_sample(at) != first
    assert "1 rated · 191 to go" in at.get("progress")[0].proto.text

    rate_command(at, "back")  # back to the first image: score it again
    assert shown_sample(at) == first and "score it again" in messages(at)
    with read_session(engine) as s:
        before = s.scalar(select(Rating.id).where(Rating.sample_id == first))
    rate(at, 2, 2, 2)
    assert "Updated your earlier rating" in messages(at)
    with read_session(engine) as s:
        rows = s.execute(select(Rating.id, Rating.generality, Rating.quality)).all()
    assert rows == [(before, 2, 2)]

    rate_command(at, "undo")
    assert "Undone" in messages(at) and count(engine, Rating) == 0 and shown_sample(at) == first
    rate_command(at, "skip")
    assert shown_sample(at) != first and count(engine, RatingSkip, RatingSkip.sample_id == first) == 1
    again = start(fresh_seeded.token("rater1"))  # a new session (a reload): the skip is remembered
    assert shown_sample(again) != first


def test_rating_a_sample_deleted_meanwhile_says_so(app_env, engine, fresh_seeded):
    at = start(fresh_seeded.token("rater1"))
    doomed = shown_sample(at)
    with write_session(engine) as s:
        s.delete(s.get(Sample, doomed))
    rate(at, 3, 3, 3)
    assert "no longer exists (it was deleted); nothing was saved" in messages(at)
    assert count(engine, Rating) == 0 and shown_sample(at) != doomed


def test_a_resent_command_keeps_one_row_and_stale_tokens_are_refused(app_env, engine, fresh_seeded):
    at = start(fresh_seeded.token("rater1"))
    token = component_data(at, "rate.input")["token"]
    rate_command(at, "score", (3, 3, 3), token=token, mount="m1", seq=1)
    rate_command(at, "score", (3, 3, 3), token=token, mount="m1", seq=1)  # the browser resent it: same seq
    assert count(engine, Rating) == 1
    second = shown_sample(at)
    rate_command(at, "score", (1, 1, 1), token=token, mount="m1", seq=2)  # a new command for the old image
    assert "no longer on screen, so it was ignored" in messages(at)
    assert count(engine, Rating) == 1 and shown_sample(at) == second
    assert component_data(at, "rate.input")["token"] not in (token,)  # the view got a new token too


def test_grid_scores_the_whole_grid_and_flags_are_undoable(app_env, engine, seeded):
    rater_id, token = seeded.raters["rater1"]
    with read_session(engine) as s:
        before = s.execute(select(Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality)
                           .where(Rating.rater_id == rater_id).order_by(Rating.sample_id)).all()
    at = start(token).switch_page("app_pages/grid.py").run()
    assert [t.value for t in at.title] == ["Grid"]
    assert at.selectbox(key="grid.letter").options == ["Grid A", "Grid B", "Grid C", "Grid D"]  # never a step
    boxes = [c for c in at.checkbox if c.key.startswith("grid.flag.")]
    assert len(boxes) == 64
    boxes[0].check()
    boxes[1].check()
    [b for b in at.button if b.label == "Save artifact flags"][0].click().run()
    assert "Artifact flags saved: 2 added, 0 taken back" in messages(at)
    [c for c in at.checkbox if c.key.startswith("grid.flag.") and c.value][0].uncheck()  # undo one
    [b for b in at.button if b.label == "Save artifact flags"][0].click().run()
    assert "0 added, 1 taken back" in messages(at) and count(engine, ArtifactFlag) == 1
    letter = at.selectbox(key="grid.letter").value
    for criterion, value in (("generality", 4), ("emoji_style", 5), ("quality", 2)):
        at.radio(key=f"grid.score.{letter}.{criterion}").set_value(value)
    [b for b in at.button if b.label == "Save grid scores"][0].click().run()
    assert f"Saved your scores for grid {letter}" in messages(at)
    with read_session(engine) as s:
        after = s.execute(select(Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality)
                          .where(Rating.rater_id == rater_id).order_by(Rating.sample_id)).all()
        grid = s.execute(select(GridRating.generality, GridRating.emoji_style, GridRating.quality)).all()
    assert after == before and grid == [(4, 5, 2)]  # no rating changed; the grid's scores are their own row


def test_compare_records_a_judgement_and_ranks(app_env, engine, seeded):
    rater_id, token = seeded.raters["rater1"]
    at = start(token).switch_page("app_pages/compare.py").run()
    before = count(engine, Comparison, Comparison.rater_id == rater_id)
    at.button(key="compare.left").click().run()
    assert "Left wins. Saved." in messages(at)
    assert count(engine, Comparison, Comparison.rater_id == rater_id) == before + 1
    assert not at.dataframe and not at.subheader  # the Bradley–Terry ranking names steps: admins only
    admin = start(seeded.admin[1]).switch_page("app_pages/compare.py").run()
    ranking = admin.dataframe[0].value
    assert len(ranking) == len(seeded.steps) and list(ranking["rank"]) == list(range(1, len(seeded.steps) + 1))


def test_checkpoints_decision_view_is_for_admins(app_env, engine, seeded):
    at = start(seeded.token("rater1"))
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not even listed for raters
        at.switch_page("app_pages/checkpoints.py")

    admin = start(seeded.admin[1]).switch_page("app_pages/checkpoints.py").run()
    assert not admin.exception and not admin.error
    assert any("Step" in str(s.value) for s in admin.success)  # the recommendation, on top
    assert any("Rule:" in str(c.value) for c in admin.caption)
    assert [m.label for m in admin.metric][:4] == ["Rated images", "Overlap set", "Raters per image", "Queue"]
    assert admin.metric[0].value == "256 / 256"
    assert len(admin.get("vega_lite_chart")) >= 6  # one small chart per criterion and combined, loss, LR
    assert any(s.label == "Prompt" for s in admin.selectbox)
    admin.text_input(key="checkpoints.reason").input("earliest within one SE of the best")
    [b for b in admin.button if b.label == "Choose this checkpoint"][0].click().run()
    assert "Recorded: stop at step" in messages(admin)
    assert count(engine, Decision) == 1


def test_masks_accept_stores_a_manual_mask_and_reject(app_env, engine, seeded):
    rater_id, token = seeded.raters["rater2"]
    at = start(token).switch_page("app_pages/masks.py").run()
    assert [t.value for t in at.title] == ["Masks"]
    work = at.session_state["masks.work"]
    assert len(work) == 1
    first = next(iter(work))
    at.button(key="masks.accept").click().run()
    assert "Accepted" in messages(at)
    with read_session(engine) as s:
        row = s.scalars(select(Mask).where(Mask.source == "manual")).one()
    assert row.rater_id == rater_id and row.status == "accepted" and row.sample_id == first
    at.button(key="masks.reject").click().run()
    assert "Rejected" in messages(at)
    assert count(engine, Mask, Mask.source == "manual", Mask.status == "rejected") == 1


@pytest.mark.parametrize("page", ["stickers", "dataset"])
def test_curation_pages_render(app_env, seeded, page):
    at = start(seeded.admin[1]).switch_page(f"app_pages/{page}.py").run()
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == [page.capitalize()]
    if page == "dataset":  # the seeded 40 items: one in ten in validation
        row = at.dataframe[0].value.set_index("name").loc["seed-emoji"]
        assert (row["items"], row["train"], row["val"]) == (40, 36, 4)
        assert "40 captions" in at.caption[0].value


def test_stickers_export_a_set_through_the_exporter(app_env, seeded):
    import io
    import zipfile

    at = start(seeded.admin[1]).switch_page("app_pages/stickers.py").run()
    picks = [c for c in at.checkbox if c.key.startswith("stickers.pick.")][:2]
    for box in picks:
        box.check()
    at.run()
    at.button(key="stickers.export").click().run()
    assert not at.error, [e.value for e in at.error]
    names = zipfile.ZipFile(io.BytesIO(at.session_state["stickers.zip"])).namelist()
    assert "contact_sheet.png" in names and sum(n.endswith(".png") for n in names) == 3


def test_masks_contour_sliders_rebuild_the_mask(app_env, engine, seeded):
    at = start(seeded.token("rater1")).switch_page("app_pages/masks.py").run()
    sid = next(iter(at.session_state["masks.work"]))
    suggestion = at.session_state["masks.work"][sid].copy()
    at.slider(key="masks.white").set_value(200)
    at.button(key="masks.contour").click().run()
    assert not at.exception
    rebuilt = at.session_state["masks.work"][sid]
    assert (rebuilt != suggestion).any()  # the seeded suggestion's wrong corner is gone
    assert "1 edit so far" in " ".join(str(c.value) for c in at.caption)
    at.button(key="masks.reset").click().run()
    assert (at.session_state["masks.work"][sid] == suggestion).all()


@pytest.mark.parametrize("page", ["rate", "grid", "compare", "checkpoints", "rater_quality", "masks", "stickers", "dataset"])
def test_pages_say_what_is_missing_on_an_empty_database(app_env, engine, page):
    from db.raters import add_rater

    with write_session(engine) as s:
        _, token = add_rater(s, "first", is_admin=True)
    at = start(token).switch_page(f"app_pages/{page}.py").run()
    assert not at.exception and not at.error
    assert at.info or at.success  # e.g. "There are no runs yet" / "The review queue is empty."


def test_unmigrated_database_is_one_clear_message(tmp_path, monkeypatch, capsys):
    from workbench.cli import main as cli

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("EMOJICH_DB", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert "run `emojich db upgrade` first" in shown(at.error[0].value)
    assert cli(["workbench", "--db", url, "--port", "8599"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: database") and "emojich db upgrade" in err and "\n" not in err


def test_decision_view_holds_back_until_the_design_is_covered_and_sets_the_design(app_env, engine, fresh_seeded):
    from db.rating_design import get_design
    from db.ratings import Scores, save_rating

    rater_id = fresh_seeded.raters["rater1"][0]
    with write_session(engine) as s:
        for sample_id in fresh_seeded.sample_ids[:8]:
            save_rating(s, rater_id, sample_id, Scores(4, 4, 4))
    admin = start(fresh_seeded.admin[1]).switch_page("app_pages/checkpoints.py").run()
    warnings = " | ".join(str(w.value) for w in admin.warning)
    assert "Held back: agreement waits until at least 2 raters have scored the whole overlap set (39 images); 0 so far" in warnings
    assert "every checkpoint needs at least 12 rated images; short: step 0 (8/64), step 6000 (0/64)" in warnings
    assert not admin.success  # no recommendation shown
    admin.radio(key="design.queue").set_value("adaptive")
    [b for b in admin.button if b.label == "Save design"][0].click().run()
    assert "Rating design saved." in messages(admin)
    with read_session(engine) as s:
        assert get_design(s, fresh_seeded.run_id).queue == "adaptive"


def test_a_write_lock_held_past_the_busy_timeout_is_a_message_not_a_traceback(app_env, engine, fresh_seeded,
                                                                              monkeypatch):
    import sqlite3

    import db.engine

    monkeypatch.setattr(db.engine, "SQLITE_BUSY_TIMEOUT_MS", 300)  # a stopped job holds the lock: wait 0.3 s
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        at = start(fresh_seeded.raters["rater1"][1])  # logging in writes the login session
        assert not at.exception, at.exception
        assert "The database is busy" in messages(at) and "Nothing was saved" in messages(at)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    at = start(fresh_seeded.raters["rater1"][1])
    assert not at.exception and [t.value for t in at.title] == ["Rate"]
