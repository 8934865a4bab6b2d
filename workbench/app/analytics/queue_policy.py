"""Which image a rater sees next: the rating design as pure functions (the Rate page through
workbench/app/rating_queue.py, and bench/bench_queue.py, call them).

The design of a run (its settings are a `db.models.RatingDesign` row):
- **Overlap**: `overlap_set` picks about `share` of the samples, the same number from every
  checkpoint and each prompt about equally often; every rater scores all of it first, so agreement
  and rater quality rest on images everyone saw.
- **The rest**: each other sample until it has `target` raters, fewest raters first.
- **Order**: a seeded order per rater (`constrained_order`), random, with no two consecutive images
  from the same checkpoint or of the same prompt; `next_sample` keeps that rule against the image
  shown just before, so the sequence a rater sees never walks the checkpoints or repeats a prompt.
- **Silent repeats**: after every `REPEAT_EVERY` ratings, up to `repeats` times, an overlap image the
  rater scored at least `REPEAT_GAP` ratings earlier comes back (test–retest); it looks like any other.
- **Adaptive** (a setting per run; uniform stays available): once the rater has finished the overlap,
  images from the two checkpoints whose ratings can most easily still change the recommendation
  (`stopping_rule.focus_checkpoints`: of the undecided ones, those fewest standard errors from the
  threshold) come first: the one with the fewest ratings so far, and in it the image with the fewest
  raters.
"""
from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

REPEAT_EVERY = 25
REPEAT_GAP = 15


@dataclass(frozen=True)
class Item:
    sample_id: int
    checkpoint_id: int
    prompt_id: int


@dataclass(frozen=True)
class Pick:
    sample_id: int
    kind: str  # overlap | design | focus | extra | repeat


@dataclass(frozen=True)
class RaterState:
    """Everything `next_sample` needs about one rater in one run."""

    order: Sequence[Item]  # this rater's seeded order of the run's samples (constrained_order)
    overlap: frozenset[int]
    rated: Sequence[int]  # sample ids this rater rated, oldest first
    skipped: frozenset[int] = frozenset()
    repeated: frozenset[int] = frozenset()  # samples already shown again as a silent repeat
    raters: Mapping[int, int] | None = None  # sample id → how many raters rated it so far
    previous: Item | None = None  # the image shown just before
    target: int = 2
    repeats: int = 0  # silent repeats this rater gets
    focus: frozenset[int] | None = None  # adaptive: checkpoint ids still undecided; None = uniform


def seed_for(*parts: object) -> int:
    """A stable 63-bit seed from any parts (run, rater, design seed…)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def overlap_set(items: Iterable[Item], share: float, seed: int) -> frozenset[int]:
    """About `share` of the samples: round(share × n) from every checkpoint, the prompts taken in a
    rotating window over a seeded prompt order so each prompt lands in about as many checkpoints."""
    items = list(items)
    if share <= 0 or not items:
        return frozenset()
    rng = random.Random(seed)
    prompts = sorted({it.prompt_id for it in items})
    rng.shuffle(prompts)
    rank = {p: i for i, p in enumerate(prompts)}
    checkpoints = sorted({it.checkpoint_id for it in items})
    rng.shuffle(checkpoints)
    by_checkpoint: dict[int, list[Item]] = {}
    for it in sorted(items, key=lambda it: it.sample_id):
        by_checkpoint.setdefault(it.checkpoint_id, []).append(it)
    chosen: set[int] = set()
    start = 0
    for checkpoint in checkpoints:
        group = by_checkpoint[checkpoint]
        count = min(len(group), max(1, round(share * len(group))))
        ties = {it.sample_id: rng.random() for it in group}
        group = sorted(group, key=lambda it: ((rank[it.prompt_id] - start) % len(prompts), ties[it.sample_id]))
        chosen.update(it.sample_id for it in group[:count])
        start += count
    return frozenset(chosen)


def _clash(a: Item, b: Item | None) -> bool:
    return b is not None and (a.checkpoint_id == b.checkpoint_id or a.prompt_id == b.prompt_id)


ORDER_ATTEMPTS = 20


def constrained_order(items: Iterable[Item], seed: int, previous: Item | None = None) -> list[Item]:
    """A seeded random order with no two neighbours from the same checkpoint or of the same prompt
    (where the items allow it at all): the first of a few seeded greedy attempts that keeps the
    rule everywhere, else the one that breaks it least."""
    items = list(items)
    best: tuple[int, list[Item]] | None = None
    for attempt in range(ORDER_ATTEMPTS):
        order = _greedy_order(items, random.Random(seed_for(seed, attempt)), previous)
        violations = order_violations([previous, *order] if previous else order)
        if violations == 0:
            return order
        if best is None or violations < best[0]:
            best = (violations, order)
    return best[1]


def _greedy_order(items: list[Item], rng: random.Random, previous: Item | None) -> list[Item]:
    """Greedy over a shuffled pool; a checkpoint or prompt holding more than half of what is left
    goes next, so the tail does not end in a forced run."""
    pool = list(items)
    rng.shuffle(pool)
    by_checkpoint = Counter(it.checkpoint_id for it in pool)
    by_prompt = Counter(it.prompt_id for it in pool)
    order: list[Item] = []
    last = previous
    while pool:
        # a group holding more than half of what is left must take every other place from now on
        checkpoint, c_count = by_checkpoint.most_common(1)[0]
        prompt, p_count = by_prompt.most_common(1)[0]
        must_c = checkpoint if 2 * c_count > len(pool) else None
        must_p = prompt if 2 * p_count > len(pool) else None
        index, fallback = None, None
        for i, it in enumerate(pool):
            if _clash(it, last):
                continue
            if fallback is None:
                fallback = i
            if must_c in (None, it.checkpoint_id) and must_p in (None, it.prompt_id):
                index = i
                break
        if index is None:
            index = fallback if fallback is not None else 0
        item = pool.pop(index)
        by_checkpoint[item.checkpoint_id] -= 1
        by_prompt[item.prompt_id] -= 1
        order.append(item)
        last = item
    return order


def _first(pool: Sequence[Item], ok) -> int | None:
    return next((i for i, it in enumerate(pool) if ok(it)), None)


def order_violations(sequence: Sequence[Item]) -> int:
    """Neighbours from the same checkpoint or of the same prompt."""
    return sum(_clash(a, b) for a, b in zip(sequence[1:], sequence, strict=False))


def due_repeat(state: RaterState) -> int | None:
    """The sample to show again as a silent repeat now, if one is due."""
    done, count = len(state.rated), len(state.repeated)
    if count >= state.repeats or done < (count + 1) * REPEAT_EVERY:
        return None
    earlier = set(state.rated[: done - REPEAT_GAP])
    candidates = [it for it in state.order if it.sample_id in earlier and it.sample_id in state.overlap
                  and it.sample_id not in state.repeated and it.sample_id not in state.skipped]
    return next((it.sample_id for it in candidates if not _clash(it, state.previous)), None)


def next_sample(state: RaterState) -> Pick | None:
    """The next image for this rater, or None when nothing is left for them (see the module doc)."""
    repeat = due_repeat(state)
    if repeat is not None:
        return Pick(repeat, "repeat")
    done = set(state.rated)
    done.update(state.skipped)
    fallback = None
    for it in state.order:  # the overlap first, in the rater's order
        if it.sample_id in state.overlap and it.sample_id not in done:
            if not _clash(it, state.previous):
                return Pick(it.sample_id, "overlap")
            fallback = fallback or it
    if fallback is not None:
        return Pick(fallback.sample_id, "overlap")
    raters = state.raters or {}
    focus = state.focus or None
    load: Counter = Counter()  # adaptive: ratings per checkpoint so far, the least rated undecided one first
    if focus is not None:
        for it in state.order:
            load[it.checkpoint_id] += raters.get(it.sample_id, 0)
    best, best_key = None, None
    for rank, it in enumerate(state.order):
        if it.sample_id in done:
            continue
        count = raters.get(it.sample_id, 0)
        if focus is not None:
            key = (_clash(it, state.previous), it.checkpoint_id not in focus, load[it.checkpoint_id], count, rank)
        else:
            key = (_clash(it, state.previous), count >= state.target, 0, count, rank)
        if best_key is None or key < best_key:
            best, best_key = it, key
            if focus is None and key[:4] == (False, False, 0, 0):
                break  # nothing can come before it
    if best is None:
        return None
    if focus is not None:
        kind = "focus" if best.checkpoint_id in focus else "extra"
    else:
        kind = "design" if raters.get(best.sample_id, 0) < state.target else "extra"
    return Pick(best.sample_id, kind)


def left_for(state: RaterState) -> int:
    """Images still waiting for this rater: the overlap they have not scored and the other samples
    that are short of the target number of raters."""
    done = set(state.rated) | state.skipped
    raters = state.raters or {}
    return sum(
        1 for it in state.order
        if it.sample_id not in done and (it.sample_id in state.overlap or raters.get(it.sample_id, 0) < state.target)
    )


def blind_letters(checkpoint_ids: Sequence[int], seed: int) -> dict[int, str]:
    """A letter per checkpoint in a seeded order (the Grid page's names: never the step)."""
    shuffled = list(checkpoint_ids)
    random.Random(seed).shuffle(shuffled)
    return {c: _letter(i) for i, c in enumerate(shuffled)}


def _letter(index: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[index] if index < 26 else f"{letters[index // 26 - 1]}{letters[index % 26]}"


def shuffled(values: Sequence, seed: int) -> list:
    out = list(values)
    random.Random(seed).shuffle(out)
    return out
