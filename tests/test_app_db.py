"""The workbench's query modules: tokens, ratings (edits, deletions, races), comparisons,
decisions, dashboard aggregates, and the `emojich raters` CLI."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from db.checkpoints import prompt_across_checkpoints
from db.comparisons import list_outcomes, save_comparison
from db.decisions import add_decision, latest_decision
from db.engine import read_session, write_session
from db.errors import InvalidScore, InvalidToken, PermissionDenied, SampleNotFound
from db.models import Comparison, Rater, Rating, Sample
from db.raters import add_rater, authenticate
from db.ratings import Scores, delete_rating, rating_progress, save_rating
from db.runs import metric_series
from db.scores import checkpoint_scores, score_value_counts
from db.stickers import list_sticker_candidates
from workbench.app.rating_queue import next_item
from workbench.cli import main as cli


def test_tokens_are_stored_hashed_and_checked(engine):
    with write_session(engine) as s:
        rater, token = add_rater(s, "ann")
    with read_session(engine) as s:
        stored = s.scalar(select(Rater.token_hash).where(Rater.id == rater.id))
        assert token not in stored and stored.startswith("scrypt$")
        assert authenticate(s, token).name == "ann"
        for bad, message in (("", "enter the access token"), ("hello", "not an access token"),
                             (token[:-2] + "xx", "unknown or revoked"), (f"emj_999_{token[-10:]}", "unknown or revoked"),
                             ("emj_" + "9" * 30 + "_x", "not an access token"), ("emj_²_x", "not an access token")):
            with pytest.raises(InvalidToken, match=message):
                authenticate(s, bad)


def test_second_submit_edits_the_same_row(engine, fresh_seeded):
    rater_id = fresh_seeded.raters["rater1"][0]
    sample_id = fresh_seeded.sample_ids[0]
    with write_session(engine) as s:
        first = save_rating(s, rater_id, sample_id, Scores(2, 3, 4))
    with write_session(engine) as s:
        second = save_rating(s, rater_id, sample_id, Scores(5, 5, 1))
    assert first.created and not second.created and first.rating_id == second.rating_id
    with read_session(engine) as s:
        rows = s.execute(select(Rating.generality, Rating.emoji_style, Rating.quality)).all()
        assert rows == [(5, 5, 1)]
        assert rating_progress(s, rater_id) == (1, len(fresh_seeded.sample_ids))
    with pytest.raises(InvalidScore, match="from 1 to 5"):
        Scores(0, 3, 3)


def test_rating_a_deleted_sample_says_so_and_saves_nothing(engine, fresh_seeded):
    rater_id = fresh_seeded.raters["rater1"][0]
    sample_id = fresh_seeded.sample_ids[5]
    with write_session(engine) as s:
        s.delete(s.get(Sample, sample_id))
    with write_session(engine) as s, pytest.raises(SampleNotFound, match="deleted"):
        save_rating(s, rater_id, sample_id, Scores(3, 3, 3))
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 0


def test_two_raters_and_a_double_click_at_once_keep_exactly_the_right_rows(engine, fresh_seeded):
    r1, r2 = fresh_seeded.raters["rater1"][0], fresh_seeded.raters["rater2"][0]
    sample_id = fresh_seeded.sample_ids[1]
    barrier = threading.Barrier(4)
    errors = []

    def submit(rater_id, scores):
        try:
            barrier.wait()
            with write_session(engine) as s:
                save_rating(s, rater_id, sample_id, scores)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=a) for a in
               ((r1, Scores(1, 1, 1)), (r1, Scores(1, 1, 1)), (r2, Scores(4, 4, 4)), (r2, Scores(4, 4, 4)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with read_session(engine) as s:
        rows = s.execute(select(Rating.rater_id, Rating.generality).order_by(Rating.rater_id)).all()
    assert rows == [(r1, 1), (r2, 4)]


def test_blind_order_is_reproducible_per_rater_and_differs_between_raters(engine, fresh_seeded):
    from db.ratings import add_skip

    r1, r2 = fresh_seeded.raters["rater1"][0], fresh_seeded.raters["rater2"][0]
    run = fresh_seeded.run_id
    with read_session(engine) as s:
        first = [next_item(s, r1, run).item.sample_id, next_item(s, r1, run).item.sample_id]
        other = next_item(s, r2, run).item.sample_id
    assert first[0] == first[1] and first[0] != other
    with write_session(engine) as s:
        add_skip(s, r1, first[0])
    with read_session(engine) as s:
        skipped = next_item(s, r1, run, first[0]).item.sample_id
    assert skipped != first[0]
    with write_session(engine) as s:
        save_rating(s, r1, skipped, Scores(3, 3, 3))
    with read_session(engine) as s:
        assert next_item(s, r1, run, skipped).item.sample_id not in (first[0], skipped)
    with write_session(engine) as s:
        assert delete_rating(s, r1, skipped) and not delete_rating(s, r1, skipped)


def test_comparisons_are_stored_once_per_pair_and_aggregate(engine, fresh_seeded):
    rater_id = fresh_seeded.raters["rater1"][0]
    left, right = fresh_seeded.sample_ids[0], fresh_seeded.sample_ids[64]  # prompt 0 at two checkpoints
    with write_session(engine) as s:
        save_comparison(s, rater_id, right, left, "left")  # right-hand id shown left
        save_comparison(s, rater_id, left, right, "tie")  # the same pair again: edited
    with read_session(engine) as s:
        rows = s.execute(select(Comparison.sample_a, Comparison.sample_b, Comparison.winner)).all()
        assert rows == [(left, right, "tie")]
        assert [(o.winner, o.count) for o in list_outcomes(s, fresh_seeded.run_id)] == [("tie", 1)]


def test_decisions_are_for_admins_only(engine, seeded):
    admin_id = seeded.admin[0]
    rater_id = seeded.raters["rater1"][0]
    checkpoint_id = seeded.checkpoint_ids[1]
    with write_session(engine) as s, pytest.raises(PermissionDenied, match="only an admin"):
        add_decision(s, rater_id, checkpoint_id, "I like it")
    with write_session(engine) as s:
        add_decision(s, admin_id, checkpoint_id, "earliest within one SE of the best")
    with read_session(engine) as s:
        assert latest_decision(s, seeded.run_id).checkpoint_id == checkpoint_id


def test_dashboard_aggregates_match_the_raw_rows(engine, seeded):
    with read_session(engine) as s:
        stats = checkpoint_scores(s, seeded.run_id)
        raw = s.execute(
            select(Sample.checkpoint_id, Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality).join(Sample)
        ).all()
        counts = score_value_counts(s, seeded.run_id)["quality"]
        series = metric_series(s, seeded.run_id, ("loss", "lr"), max_points=50)
        tiles = prompt_across_checkpoints(s, seeded.run_id, seeded.prompt_ids[0])
        candidates = list_sticker_candidates(s, seeded.run_id, min_score=1.0)
    assert [row.step for row in stats] == seeded.steps
    for row in stats:
        mine = [r for r in raw if r[0] == row.checkpoint_id]
        assert row.ratings == len(mine) == 64 * 2 and row.samples == row.combined.n == 64
        assert row.by_criterion["generality"].mean == pytest.approx(sum(r[2] for r in mine) / len(mine))
        assert row.combined.mean == pytest.approx(sum(sum(r[2:]) / 3 for r in mine) / len(mine))
        per_sample = {}
        for r in mine:
            per_sample.setdefault(r[1], []).append(sum(r[2:]) / 3)
        sample_means = [sum(v) / len(v) for v in per_sample.values()]
        assert row.combined.mean_sq == pytest.approx(sum(m * m for m in sample_means) / len(sample_means))
    assert sum(sum(c) for _, c in counts) == len(raw)
    assert {sum(c) for _, c in counts} == {2}  # two raters per sample
    sid, first = counts[0]
    assert first == [sum(1 for r in raw if r[1] == sid and r[4] == v) for v in range(1, 6)]
    assert {name for name, _, _ in series} == {"loss", "lr"} and len(series) <= 2 * 50 + 2
    assert [t.step for t in tiles] == seeded.steps
    assert candidates and all(c.score >= 1.0 for c in candidates)
    assert candidates == sorted(candidates, key=lambda c: -c.score)


def test_cli_raters_add_prints_a_working_token_once(home, engine, capsys):
    assert cli(["raters", "add", "zoe", "--admin"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with read_session(engine) as s:
        rater = authenticate(s, token)
        assert rater.name == "zoe" and rater.is_admin
    assert cli(["raters", "add", "zoe"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already exists" in err
    assert cli(["raters", "list"]) == 0
    assert "zoe\tadmin" in capsys.readouterr().out


def test_ratings_export_streams_every_rating_with_its_context(engine, seeded):
    from db.ratings import EXPORT_COLUMNS, iter_ratings_for_export

    with read_session(engine) as s:
        rows = list(iter_ratings_for_export(s, seeded.admin[0], seeded.run_id))
        total = s.scalar(select(func.count()).select_from(Rating))
    assert len(rows) == total == 4 * 64 * 2
    first = dict(zip(EXPORT_COLUMNS, rows[0], strict=True))
    assert first["run"] == "seed-run" and first["step"] == 0 and first["rater"].startswith("rater")
    assert 1 <= first["generality"] <= 5 and first["prompt"]
