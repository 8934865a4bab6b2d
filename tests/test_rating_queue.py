"""The rating queue and what it is measured by, through the real databases: the next image on
SQLite and PostgreSQL with realistic ids, skips that survive a reload, silent repeats that never
overwrite, coverage and the hold-back rule, rater quality in SQL, grid scores and artifact flags."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select, text, update

from db.engine import read_session, write_session
from db.errors import PermissionDenied
from db.grid_ratings import get_grid_scores, grid_summary, save_grid_rating
from db.models import ArtifactFlag, Rating, RatingRepeat, Sample
from db.rater_quality import consensus_sums, retest_sums
from db.rating_design import InvalidDesign, get_design, open_for_rating, rating_run_id, save_design
from db.ratings import (
    Scores,
    add_skip,
    clear_skips,
    get_scores,
    iter_ratings_for_export,
    list_grid,
    queue_snapshot,
    save_rating,
    save_repeat,
    set_artifact_flags,
)
from tests.seed import seed_workbench
from workbench.app import rating_queue, run_summary
from workbench.app.analytics.queue_policy import order_violations

ID_OFFSET = 7_340_000  # a database that has seen a few hundred thousand samples


def seed_big_ids(engine, **kw):
    """A seeded run whose sample ids are in the millions, as in a long-lived database."""
    with write_session(engine) as s:
        seeded = seed_workbench(s, checkpoints=kw.pop("checkpoints", 4), prompts=kw.pop("prompts", 16), raters=3,
                                image_size=16, rate=False, comparisons_per_rater=0, masks=0, dataset_items=0, **kw)
        s.execute(update(Sample).values(id=Sample.id + ID_OFFSET))
    return seeded


def walk(engine, rater_id: int, run_id: int, count: int, skip_every: int = 0, saved: dict | None = None,
         until_done: bool = False) -> list:
    """A rater rating `count` images from the queue (skipping every `skip_every`-th): the items seen.
    `saved` collects (rater, sample) → the scores of their first rating."""
    rng = random.Random(rater_id)
    saved = {} if saved is None else saved
    seen, previous = [], None
    for i in range(count):
        with read_session(engine) as s:
            if until_done and rating_queue.progress(s, rater_id, run_id)[1] == 0:
                break
            nxt = rating_queue.next_item(s, rater_id, run_id, previous)
        if nxt is None:
            break
        seen.append(nxt)
        previous = nxt.item.sample_id
        with write_session(engine) as s:
            if skip_every and i % skip_every == skip_every - 1:
                add_skip(s, rater_id, previous)
            elif nxt.kind == "repeat":
                save_repeat(s, rater_id, previous, Scores(1, 1, 1))
            else:
                scores = Scores(*(rng.randint(1, 5) for _ in range(3)))
                save_rating(s, rater_id, previous, scores)
                saved[(rater_id, previous)] = scores
    return seen


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_next_item_with_things_left_to_rate(backend, request):
    """On PostgreSQL the old SQL order expression `(id * a + b) % (2^31 - 1)` overflowed int4 the
    moment anything was left to rate; the order is now computed in Python, the same on both."""
    engine = request.getfixturevalue("engine" if backend == "sqlite" else "pg_engine")
    seeded = seed_big_ids(engine)
    r1, r2 = seeded.raters["rater1"][0], seeded.raters["rater2"][0]
    with read_session(engine) as s:
        first = rating_queue.next_item(s, r1, seeded.run_id)
        again = rating_queue.next_item(s, r1, seeded.run_id)
        other = rating_queue.next_item(s, r2, seeded.run_id)
        ids = set(s.scalars(select(Sample.id)))
    assert first.item.sample_id > ID_OFFSET and first.item.sample_id in ids and first.kind == "overlap"
    assert again.item == first.item  # reproducible per rater
    design = get_design_default(engine, seeded.run_id)
    assert {first.item.sample_id, other.item.sample_id} <= design  # both start in the overlap
    seen = walk(engine, r1, seeded.run_id, 30, skip_every=7)
    items = [n.item for n in seen]
    assert len({n.item.sample_id for n in seen if n.kind != "repeat"}) == len(items) - 1  # one silent repeat (at 25)
    assert order_violations(items) == 0  # no neighbours from one checkpoint or of one prompt
    with read_session(engine) as s:  # "a reload": skips come from the database, not the session
        snapshot = queue_snapshot(s, seeded.run_id, r1)
        nxt = rating_queue.next_item(s, r1, seeded.run_id)
    assert len(snapshot.skipped) == 4 and nxt.item.sample_id not in snapshot.skipped | set(snapshot.rated)
    with write_session(engine) as s:
        assert clear_skips(s, r1, seeded.run_id) == 4


def get_design_default(engine, run_id):
    with read_session(engine) as s:
        from db.ratings import run_items

        return rating_queue.run_overlap(run_items(s, run_id), get_design(s, run_id))


def test_three_raters_cover_the_design_and_repeats_never_overwrite(engine):
    seeded = seed_big_ids(engine)  # 64 images: an overlap of 4 × 3 = 12, 52 others to bring to 2 raters
    run_id = seeded.run_id
    raters = [seeded.raters[f"rater{i}"][0] for i in (1, 2, 3)]
    with write_session(engine) as s:
        save_design(s, seeded.admin[0], run_id, repeats=1)
    overlap = get_design_default(engine, run_id)
    assert len(overlap) == 12
    saved: dict = {}
    # 12 × 3 overlap + 52 × 2 others + 3 repeats = 143 images between them: 48 + 48, and the third
    # rater until nothing is short of its target (a few more where the order rule forces an extra)
    seen = {r: walk(engine, r, run_id, steps, saved=saved, until_done=r == raters[2])
            for r, steps in zip(raters, (48, 48, 60), strict=True)}
    for r in raters:
        ids = [n.item.sample_id for n in seen[r]]
        assert set(ids[: len(overlap)]) == overlap and order_violations([n.item for n in seen[r][:40]]) == 0
    with read_session(engine) as s:
        per_sample = dict(s.execute(select(Rating.sample_id, func.count()).group_by(Rating.sample_id)).all())
        repeats = s.execute(select(RatingRepeat.rater_id, RatingRepeat.sample_id, RatingRepeat.generality)).all()
        coverage = run_summary.coverage(s, run_id)
        held = run_summary.held_back(s, run_id)
    assert all(per_sample[s] == 3 for s in overlap)
    others = [n for s, n in per_sample.items() if s not in overlap]
    assert len(per_sample) == 64 and min(others) == 2 and others.count(3) <= 3  # the target, give or take an extra
    assert len(repeats) == 3 and all(r[1] in overlap for r in repeats)
    with read_session(engine) as s:
        for rater_id, sample_id, _ in repeats:  # the first rating is untouched by the repeat's 1/1/1
            assert get_scores(s, rater_id, sample_id) == saved[(rater_id, sample_id)]
            assert [n.kind for n in seen[rater_id]].count("repeat") == 1
    assert coverage.overlap_size == 12 and coverage.overlap_done == 3
    assert [c.rated for c in coverage.checkpoints] == [16, 16, 16, 16]
    assert coverage.raters_per_sample == {0: 0, 2: others.count(2), 3: 12 + others.count(3)}
    assert held.show_alpha and held.show_recommendation  # 3 raters through the overlap, 16 ≥ 12 rated per checkpoint
    with write_session(engine) as s:
        save_design(s, seeded.admin[0], run_id, min_overlap_raters=4)
    with read_session(engine) as s:
        held = run_summary.held_back(s, run_id)
    assert "at least 4 raters have scored the whole overlap set (12 images); 3 so far" in held.recommendation_reason


def test_a_repeat_keeps_the_first_rating(engine, fresh_seeded):
    rater_id, sample_id = fresh_seeded.raters["rater1"][0], fresh_seeded.sample_ids[3]
    with write_session(engine) as s:
        save_rating(s, rater_id, sample_id, Scores(5, 4, 5))
        assert save_repeat(s, rater_id, sample_id, Scores(2, 2, 2))
        assert not save_repeat(s, rater_id, sample_id, Scores(3, 3, 3))  # a second repeat keeps the first
    with read_session(engine) as s:
        assert get_scores(s, rater_id, sample_id) == Scores(5, 4, 5)
        assert retest_sums(s, fresh_seeded.run_id)[0].sum_abs_diff == 3 + 2 + 3


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_rater_quality_sums_match_a_direct_computation(backend, request):
    engine = request.getfixturevalue("engine" if backend == "sqlite" else "pg_engine")
    with write_session(engine) as s:
        seeded = seed_workbench(s, checkpoints=2, prompts=8, raters=3, image_size=16, comparisons_per_rater=0,
                                masks=0, dataset_items=0)
        harsh = seeded.raters["rater3"][0]
        s.execute(update(Rating).where(Rating.rater_id == harsh).values(
            generality=1, emoji_style=1, quality=1))  # a rater who gives everything a 1
    with read_session(engine) as s:
        rows = s.execute(select(Rating.rater_id, Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality)).all()
        sums = {r.rater_id: r for r in consensus_sums(s, seeded.run_id)}
        quality = {q.name: q for q in run_summary.quality(s, seeded.run_id)}
        both = run_summary.recommendation_with_and_without(s, seeded.run_id)
        # every SQL query of the decision view runs on this backend too
        assert len(run_summary.coverage(s, seeded.run_id).checkpoints) == 2 and grid_summary(s, seeded.run_id) == []
    combined = {(r[0], r[1]): sum(r[2:]) / 3 for r in rows}
    for rater_id, row in sums.items():
        xs, ys = [], []
        for (rid, sid), x in combined.items():
            if rid != rater_id:
                continue
            others = [v for (o, t), v in combined.items() if t == sid and o != rater_id]
            xs.append(x)
            ys.append(sum(others) / len(others))
        assert row.n == len(xs) == 16
        assert row.sum_x == pytest.approx(sum(xs)) and row.sum_y == pytest.approx(sum(ys))
        assert row.sum_xy == pytest.approx(sum(x * y for x, y in zip(xs, ys, strict=True)))
    assert quality["rater3"].flagged and quality["rater3"].offset < -1.5
    assert not quality["rater1"].flagged and not quality["rater2"].flagged
    assert both.flagged == ("rater3",) and both.with_all is not None and both.without_flagged is not None


def test_grid_scores_are_their_own_rows_and_flags_never_touch_ratings(engine, seeded):
    rater_id = seeded.raters["rater1"][0]
    checkpoint_id = seeded.checkpoint_ids[2]
    with read_session(engine) as s:
        tiles = list_grid(s, checkpoint_id, rater_id)
        before = {t.sample_id: t.scores for t in tiles}
    with write_session(engine) as s:
        assert save_grid_rating(s, rater_id, checkpoint_id, Scores(4, 5, 3))
        assert not save_grid_rating(s, rater_id, checkpoint_id, Scores(4, 5, 2))  # edited, not added
        save_grid_rating(s, seeded.raters["rater2"][0], checkpoint_id, Scores(2, 5, 2))
        assert set_artifact_flags(s, rater_id, checkpoint_id, {tiles[0].sample_id, tiles[1].sample_id}) == (2, 0)
    with write_session(engine) as s:  # untick the first: undone
        assert set_artifact_flags(s, rater_id, checkpoint_id, {tiles[1].sample_id}) == (0, 1)
    with read_session(engine) as s:
        after = list_grid(s, checkpoint_id, rater_id)
        assert {t.sample_id: t.scores for t in after} == before  # every score as it was, quality included
        assert [t.flagged for t in after][:3] == [False, True, False]
        assert s.scalar(select(func.count()).select_from(ArtifactFlag)) == 1
        assert get_grid_scores(s, rater_id, checkpoint_id) == Scores(4, 5, 2)
        (summary,) = grid_summary(s, seeded.run_id)
        coverage = run_summary.coverage(s, seeded.run_id)
    assert summary.raters == 2 and summary.means["generality"] == pytest.approx(3.0)
    assert summary.counts["emoji_style"] == [0, 0, 0, 0, 2]
    assert [c.grid_raters for c in coverage.checkpoints] == [0, 0, 2, 0] and coverage.checkpoints[2].flagged == 1


def test_design_is_for_admins_and_checked(engine, seeded):
    admin, rater = seeded.admin[0], seeded.raters["rater1"][0]
    with write_session(engine) as s, pytest.raises(PermissionDenied, match="only an admin"):
        save_design(s, rater, seeded.run_id, queue="adaptive")
    for bad, message in (({"queue": "random"}, "queue must be one of uniform, adaptive"),
                         ({"overlap_share": 1.5}, "between 0 and 1"), ({"target_raters": 0}, "≥ 1"),
                         ({"colour": "red"}, "unknown design setting")):
        with write_session(engine) as s, pytest.raises(InvalidDesign, match=message):
            save_design(s, admin, seeded.run_id, **bad)
    with write_session(engine) as s:
        other = seed_workbench(s, run_name="second", checkpoints=1, prompts=4, raters=0, admin=False, image_size=16,
                               rate=False, comparisons_per_rater=0, masks=0, dataset_items=0)
    with read_session(engine) as s:
        assert rating_run_id(s) == other.run_id  # the newest run with samples
    with write_session(engine) as s:
        open_for_rating(s, admin, seeded.run_id)
    with read_session(engine) as s:
        assert rating_run_id(s) == seeded.run_id and get_design(s, seeded.run_id).opened_at is not None
        with pytest.raises(PermissionDenied, match="export ratings"):
            list(iter_ratings_for_export(s, rater, seeded.run_id))
        assert s.execute(text("SELECT count(*) FROM rating_designs")).scalar() == 1


def test_a_raters_order_is_computed_once_per_set_of_samples():
    """Every Next and every progress line needs the rater's order; it is computed once per process for
    each set of samples, and a new checkpoint (or a deleted sample) gives a new order."""
    from workbench.app.analytics.queue_policy import Item, constrained_order

    rows = tuple((1 + c * 16 + p, 10 + c, 500 + p) for c in range(4) for p in range(16))
    rating_queue.rater_order.cache_clear()
    first = rating_queue.rater_order(rows, 7)
    again = rating_queue.rater_order(tuple(list(rows)), 7)  # an equal snapshot read again
    assert again is first
    assert rating_queue.rater_order.cache_info().hits == 1
    assert list(first) == constrained_order([Item(*r) for r in rows], 7)
    grown = rows + tuple((65 + p, 14, 500 + p) for p in range(16))  # a fifth checkpoint arrives
    assert {it.sample_id for it in rating_queue.rater_order(grown, 7)} == {r[0] for r in grown}
    shrunk = rows[1:]  # a sample deleted
    assert {it.sample_id for it in rating_queue.rater_order(shrunk, 7)} == {r[0] for r in shrunk}
    assert rating_queue.rater_order(rows, 8) != first  # another rater's seed


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_adaptive_focus_is_recomputed_after_every_few_new_ratings(backend, request):
    """The Rate page caches the adaptive focus under `focus_version`, which moves on after every
    FOCUS_REFRESH new ratings of the run (what bench/bench_queue.py simulates): before, the focus was
    cached for 30 s, about 20 ratings with three raters, and the bench refreshed it every 16."""
    from workbench.app.analytics.stopping_rule import FOCUS_REFRESH

    engine = request.getfixturevalue("engine" if backend == "sqlite" else "pg_engine")
    seeded = seed_big_ids(engine)
    r1, r2 = seeded.raters["rater1"][0], seeded.raters["rater2"][0]
    with read_session(engine) as s:
        assert rating_queue.focus_version(s, seeded.run_id) == 0
    walk(engine, r1, seeded.run_id, FOCUS_REFRESH - 1)
    with read_session(engine) as s:
        assert rating_queue.focus_version(s, seeded.run_id) == 0
    walk(engine, r2, seeded.run_id, 1)
    with read_session(engine) as s:
        assert rating_queue.focus_version(s, seeded.run_id) == 1
        rated = queue_snapshot(s, seeded.run_id, r2).rated
    with write_session(engine) as s:  # an undo takes the run back below the mark
        from db.ratings import delete_rating

        delete_rating(s, r2, rated[0])
    with read_session(engine) as s:
        assert rating_queue.focus_version(s, seeded.run_id) == 0
    walk(engine, r1, seeded.run_id, 2 * FOCUS_REFRESH)  # counts every rater's ratings of the run
    with read_session(engine) as s:
        total = s.scalar(select(func.count()).select_from(Rating))
        assert rating_queue.focus_version(s, seeded.run_id) == total // FOCUS_REFRESH >= 2
