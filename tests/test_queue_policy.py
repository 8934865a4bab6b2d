"""The rating design as pure functions: overlap, constrained random order, the queue (uniform and
adaptive), silent repeats, the hold-back rule and rater quality."""
from __future__ import annotations

from collections import Counter

import pytest

from workbench.app.analytics.hold_back import CheckpointCoverage, Coverage, hold_back
from workbench.app.analytics.queue_policy import (
    REPEAT_EVERY,
    REPEAT_GAP,
    Item,
    RaterState,
    blind_letters,
    constrained_order,
    left_for,
    next_sample,
    order_violations,
    overlap_set,
    seed_for,
)
from workbench.app.analytics.rater_quality import ConsensusSums, RetestSums, rater_quality
from workbench.app.analytics.scores import Interval
from workbench.app.analytics.stopping_rule import CheckpointPoint, recommend, undecided_checkpoints

CHECKPOINTS, PROMPTS = 12, 64


def run_items(first_id: int = 4_000_001) -> list[Item]:
    """12 checkpoints × 64 prompts with ids in blocks of 64 per checkpoint, as a real run stores them."""
    return [Item(first_id + c * PROMPTS + p, 100 + c, 900 + p) for c in range(CHECKPOINTS) for p in range(PROMPTS)]


def walk(state_for, steps: int) -> list[int]:
    """Rate `steps` images in a row: the sequence of sample ids a rater would see."""
    rated: list[int] = []
    previous = None
    items = {it.sample_id: it for it in state_for([], None).order}
    for _ in range(steps):
        pick = next_sample(state_for(rated, previous))
        if pick is None:
            break
        rated.append(pick.sample_id)
        previous = items[pick.sample_id]
    return rated


def test_overlap_is_spread_over_every_checkpoint_and_prompt():
    items = run_items()
    overlap = overlap_set(items, 0.2, seed=7)
    per_checkpoint = Counter(it.checkpoint_id for it in items if it.sample_id in overlap)
    per_prompt = Counter(it.prompt_id for it in items if it.sample_id in overlap)
    assert len(overlap) == 12 * 13 and set(per_checkpoint.values()) == {13}
    assert len(per_prompt) == PROMPTS and max(per_prompt.values()) - min(per_prompt.values()) <= 1
    assert overlap == overlap_set(items, 0.2, seed=7) and overlap != overlap_set(items, 0.2, seed=8)
    assert overlap_set(items, 0.0, seed=7) == frozenset()


@pytest.mark.parametrize("seed", range(5))
def test_order_is_random_with_no_neighbours_from_one_checkpoint_or_prompt(seed):
    items = run_items()
    order = constrained_order(items, seed)
    assert sorted(it.sample_id for it in order) == sorted(it.sample_id for it in items)
    assert order_violations(order) == 0
    # not a walk down the checkpoints: steps back by exactly one are about as common as any other gap
    gaps = Counter((b.checkpoint_id - a.checkpoint_id) % CHECKPOINTS for a, b in zip(order, order[1:], strict=False))
    assert max(gaps.values()) / len(order) < 0.2
    assert gaps[CHECKPOINTS - 1] / len(order) < 0.15  # the old order: 382 of 447 pairs one checkpoint back
    # and the position in the order says nothing about the id (hence the step)
    ranks = {it.sample_id: i for i, it in enumerate(order)}
    first_half = [it.checkpoint_id for it in order[: len(order) // 2]]
    assert len(set(first_half)) == CHECKPOINTS
    assert abs(sum(ranks.values()) / len(ranks) - len(order) / 2) < 60
    assert constrained_order(items, seed) == order and constrained_order(items, seed + 1) != order


def test_a_small_overlap_still_keeps_the_rule():
    items = run_items()
    overlap = overlap_set(items, 0.2, seed=1)
    for seed in range(30):
        assert order_violations(constrained_order([it for it in items if it.sample_id in overlap], seed)) == 0


_ORDERS: dict = {}


def _state(items, overlap, rated, previous, raters=None, **kw) -> RaterState:
    key = (tuple(it.sample_id for it in items), kw.pop("rater", 1))
    if key not in _ORDERS:
        _ORDERS[key] = constrained_order(items, seed_for("r", key[1]))
    return RaterState(order=_ORDERS[key], overlap=overlap, rated=list(rated), raters=raters or {}, previous=previous, **kw)


def test_queue_serves_the_overlap_first_then_fills_the_rest_to_the_target():
    items = run_items()
    overlap = overlap_set(items, 0.2, seed=3)
    raters: Counter = Counter()
    sequences = {}
    for rater in (1, 2, 3):  # one after another: each sees the others' counts
        seq = walk(lambda rated, prev, r=rater: _state(items, overlap, rated, prev, dict(raters), rater=r, target=2), 400)
        assert set(seq[: len(overlap)]) == overlap  # the overlap, all of it, first
        assert order_violations([next(it for it in items if it.sample_id == s) for s in seq]) == 0
        raters.update(seq)
        sequences[rater] = seq
    rest = [it.sample_id for it in items if it.sample_id not in overlap]
    # 3 raters × 244 images past the overlap = 732 ≥ 612 × 2 − …: every other image reached 2 raters
    assert all(raters[s] == 3 for s in overlap)
    assert Counter(raters[s] for s in rest)[2] == len(rest) - Counter(raters[s] for s in rest)[1]
    assert min(raters[s] for s in rest) >= 1
    assert max(raters[s] for s in rest) == 2  # nobody got a third rater while some had fewer than two


def test_skipped_images_leave_the_queue_and_left_counts_the_design():
    items = run_items()[:128]
    overlap = overlap_set(items, 0.25, seed=3)
    first = next_sample(_state(items, overlap, [], None)).sample_id
    state = _state(items, overlap, [], None, skipped=frozenset({first}))
    assert next_sample(state).sample_id != first
    assert left_for(state) == len(items) - 1
    done = _state(items, overlap, [it.sample_id for it in items], None, raters=dict.fromkeys((it.sample_id for it in items), 2))
    assert next_sample(done) is None and left_for(done) == 0


def test_silent_repeats_come_back_after_a_gap_and_only_from_the_overlap():
    items = run_items()
    overlap = overlap_set(items, 0.2, seed=3)
    seq = walk(lambda rated, prev: _state(items, overlap, rated, prev, repeats=3,
                                          repeated=frozenset(s for i, s in enumerate(rated) if s in rated[:i])), 120)
    seen: dict[int, int] = {}
    repeats = []
    for i, s in enumerate(seq):
        if s in seen:
            repeats.append((i, s))
            assert i - seen[s] > REPEAT_GAP and s in overlap
        seen.setdefault(s, i)
    assert len(repeats) == 3 and repeats[0][0] == REPEAT_EVERY


def point(cid, step, mean, se, n=20):
    iv = Interval(n, mean, se * n**0.5, se, mean - 2.09 * se, mean + 2.09 * se)
    return CheckpointPoint(cid, step, iv, {"generality": iv, "emoji_style": iv, "quality": iv})


def test_undecided_checkpoints_are_those_that_can_still_move_the_recommendation():
    points = [point(1, 0, 2.0, 0.1), point(2, 6000, 3.75, 0.12), point(3, 12000, 3.9, 0.1),
              point(4, 18000, 4.0, 0.1), point(5, 24000, 4.0, 0.1), point(6, 30000, 2.5, 0.1)]
    rec = recommend(points)
    assert rec.step == 12000 and rec.best_step == 18000 and rec.threshold == pytest.approx(3.9)
    undecided = undecided_checkpoints(points)
    assert undecided == {2, 3, 4}  # 6000 and 12000 straddle 3.9; 18000 sets it; 0 and 30000 are out; 24000 cannot move it
    assert undecided_checkpoints([]) == frozenset()


def test_adaptive_queue_rates_the_undecided_checkpoints_after_the_overlap():
    items = run_items()
    overlap = overlap_set(items, 0.2, seed=3)
    focus = frozenset({103, 104, 105})
    seq = walk(lambda rated, prev: _state(items, overlap, rated, prev, focus=focus), len(overlap) + 120)
    after = [next(it for it in items if it.sample_id == s) for s in seq[len(overlap):]]
    assert set(seq[: len(overlap)]) == overlap
    assert all(it.checkpoint_id in focus for it in after)
    assert order_violations(after) == 0
    # within the focus, fewest ratings first: no image of the focus is rated twice before all have one
    assert len({it.sample_id for it in after}) == len(after)


def test_blind_letters_are_a_seeded_shuffle():
    ids = list(range(50, 62))
    letters = blind_letters(ids, 5)
    assert sorted(letters.values()) == sorted("ABCDEFGHIJKL")
    assert [letters[i] for i in ids] != list("ABCDEFGHIJKL") and blind_letters(ids, 5) == letters


def _coverage(rated: int, done: int, overlap: int = 156) -> Coverage:
    checkpoints = tuple(CheckpointCoverage(c, c * 6000, 64, rated, rated * 2, 0, 0) for c in range(12))
    return Coverage(checkpoints, overlap, done, {2: rated * 12})


def test_hold_back_names_what_is_missing():
    held = hold_back(_coverage(rated=13, done=1), min_overlap_raters=2, min_rated_per_checkpoint=12)
    assert not held.show_alpha and not held.show_recommendation
    assert "at least 2 raters have scored the whole overlap set (156 images); 1 so far" in held.alpha_reason
    short = hold_back(_coverage(rated=6, done=2), 2, 12)
    assert short.show_alpha and not short.show_recommendation
    assert "at least 12 rated images" in short.recommendation_reason and "step 0 (6/64)" in short.recommendation_reason
    ready = hold_back(_coverage(rated=13, done=2), 2, 12)
    assert ready.show_alpha and ready.show_recommendation
    assert "no overlap set" in hold_back(_coverage(13, 0, overlap=0), 2, 12).alpha_reason


def _sums(rater_id, pairs, offsets=None):
    xs, ys = zip(*pairs, strict=True)
    return ConsensusSums(rater_id, f"r{rater_id}", len(pairs), len(pairs), sum(xs), sum(ys), sum(x * x for x in xs),
                         sum(y * y for y in ys), sum(x * y for x, y in pairs),
                         offsets or {"generality": 0.0, "emoji_style": 0.0, "quality": 0.0})


def test_rater_quality_flags_offset_disagreement_and_unstable_repeats():
    truth = [1 + (i % 5) for i in range(30)]
    good = _sums(1, [(t, t + 0.1) for t in truth])
    harsh = _sums(2, [(t - 1.0, t) for t in truth])
    contrary = _sums(3, [(6 - t, t) for t in truth])  # same mean, opposite reading
    shaky = _sums(4, [(t, t) for t in truth])
    quality = {q.rater_id: q for q in rater_quality([good, harsh, contrary, shaky],
                                                    [RetestSums(4, 5, 5 * 3 * 1.6), RetestSums(1, 5, 2.0)])}
    assert not quality[1].flagged and quality[1].agreement == pytest.approx(1.0)
    assert quality[2].flagged and quality[2].offset == pytest.approx(-1.0) and "below" in quality[2].reasons[0]
    assert quality[3].flagged and "agrees little" in " ".join(quality[3].reasons)
    assert quality[4].flagged and quality[4].retest_diff == pytest.approx(1.6)
    assert quality[1].retest_diff == pytest.approx(2.0 / 15)


def test_the_adaptive_focus_is_the_two_checkpoints_nearest_the_threshold():
    from workbench.app.analytics.stopping_rule import focus_checkpoints

    points = [point(1, 0, 2.0, 0.1), point(2, 6000, 3.75, 0.12), point(3, 12000, 3.9, 0.1),
              point(4, 18000, 4.0, 0.1), point(5, 24000, 4.0, 0.1), point(6, 30000, 2.5, 0.1)]
    # undecided: 2 (1.25 SE from the threshold 3.9), 3 (on it), 4 (the best: 1 SE by construction)
    assert focus_checkpoints(points) == {3, 4}
    assert focus_checkpoints(points, size=3) == undecided_checkpoints(points) == {2, 3, 4}
    short = [*points[:5], point(6, 30000, 2.5, float("nan"), n=1)]  # too few rated: comes first
    assert 6 in focus_checkpoints(short)
    assert focus_checkpoints([]) == frozenset()
