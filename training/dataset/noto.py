"""Build the Russian-captioned emoji dataset from Noto Color Emoji and CLDR names.

Writes files only (fast path); `register_dataset` puts the rows in the database. Re-running
reuses images already on disk at the same size, so an interrupted build resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from db.errors import EmojichError
from training.dataset.captions import CLDR_VERSION, cldr_captions, codepoints_of, strip_skin_tones
from training.dataset.layout import (
    ItemRecord,
    dataset_dir,
    prepare_dirs,
    read_build_info,
    reuse_item_images,
    write_build_info,
    write_item_images,
    write_metadata,
)
from training.dataset.notices import write_noto_notices
from training.dataset.render import NotoRenderer
from training.dataset.report import BuildReport
from training.dataset.split import assign_splits
from training.dataset.upscale import make_upscaler

SOURCE = "noto-color-emoji"
LICENSE = f"Apache-2.0 (Noto Color Emoji images); captions Unicode-3.0 (CLDR {CLDR_VERSION})"
PARALLEL_MIN_ITEMS = 300


def emoji_file(emoji: str) -> str:
    """Noto's own naming: emoji_u1f44d_1f3fb.png."""
    return "emoji_u" + "_".join(f"{ord(ch):04x}" for ch in emoji) + ".png"


def candidate_emoji() -> list[str]:
    """Every CLDR emoji, each base followed by its skin-tone variants (CLDR file order)."""
    captions = cldr_captions()
    position = {emoji: i for i, emoji in enumerate(captions)}
    return sorted(captions, key=lambda e: (position.get(strip_skin_tones(e), position[e]), position[e]))


def spread(items: Sequence[str], limit: int | None) -> list[str]:
    """`limit` items evenly spread over the list (so a small build covers every category)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    return [items[(i * len(items)) // limit] for i in range(limit)]


# One renderer and upscaler per process (the pool's initializer sets them).
_worker: dict = {}


def _init_worker(home: str, upscale: str) -> None:
    _worker["renderer"] = NotoRenderer()
    _worker["upscaler"] = make_upscaler(upscale, Path(home))


def _make_one(task: tuple[str, str, int, str, bool]) -> tuple[str, float | None, bool]:
    """(emoji, white share or None if the font lacks it, reused)."""
    emoji, directory, size, file, reusable = task
    directory_path = Path(directory)
    share = reuse_item_images(directory_path, file, size) if reusable else None
    if share is not None:
        return emoji, share, True
    glyph = _worker["renderer"].render(emoji)
    if glyph is None:
        return emoji, None, False
    return emoji, write_item_images(directory_path, file, _worker["upscaler"](glyph, size)), False


def build_noto_dataset(
    home: Path,
    name: str = "noto-ru",
    size: int = 256,
    limit: int | None = None,
    val_size: int = 143,
    upscale: str = "lanczos",
    seed: int = 0,
    *,
    emoji: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> BuildReport:
    """Render, caption, convert and split; write `<home>/datasets/<name>/`. Files only.

    `emoji` restricts the build to those emoji (in that order); `limit` then keeps that many,
    evenly spread. `workers` defaults to 2 processes for large Lanczos builds.
    """
    if size < 16:
        raise EmojichError(f"--size must be at least 16 px (got {size})")
    if val_size < 0:
        raise EmojichError(f"--val-size must be ≥ 0 (got {val_size})")
    started = time.perf_counter()
    directory = dataset_dir(home, name)
    captions = cldr_captions()
    chosen = list(emoji) if emoji is not None else candidate_emoji()
    unknown = [e for e in chosen if e.replace("\ufe0f", "") not in captions]
    if unknown:
        raise EmojichError(f"no CLDR Russian name for {unknown[0]!r} ({codepoints_of(unknown[0])})")
    chosen = spread(list(dict.fromkeys(e.replace("\ufe0f", "") for e in chosen)), limit)
    upscaler = make_upscaler(upscale, Path(home))  # fails fast (missing weights) before any work
    prepare_dirs(directory)
    # Files on disk are reused only if they were made the same way (size and upscaler).
    previous = read_build_info(directory)
    reusable = previous.get("size") == size and previous.get("upscale") == upscale
    write_build_info(
        directory, {"name": name, "source": SOURCE, "size": size, "upscale": upscale, "complete": False}
    )

    tasks = [(e, str(directory), size, emoji_file(e), reusable) for e in chosen]
    if workers is None:
        workers = (
            min(2, os.cpu_count() or 1) if upscale == "lanczos" and len(tasks) >= PARALLEL_MIN_ITEMS else 1
        )
    bar = tqdm(total=len(tasks), desc=f"building {name}", unit="emoji", disable=not progress)
    results: dict[str, tuple[float | None, bool]] = {}
    if workers > 1:
        # spawn, not fork: the caller may hold threads (tqdm's monitor, torch) whose locks a fork copies.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(str(home), upscale)
        ) as pool:
            for e, share, reused in pool.map(_make_one, tasks, chunksize=64):
                results[e] = (share, reused)
                bar.update()
    else:
        _worker.update(renderer=NotoRenderer(), upscaler=upscaler)
        for task in tasks:
            e, share, reused = _make_one(task)
            results[e] = (share, reused)
            bar.update()
    bar.close()

    made = [e for e in chosen if results[e][0] is not None]
    splits = assign_splits([captions[e] for e in made], val_size, seed)
    records = [
        ItemRecord(
            file=emoji_file(e),
            caption=captions[e],
            emoji=e,
            codepoints=codepoints_of(e),
            source=SOURCE,
            license=LICENSE,
            split=split,
            white_share=round(results[e][0], 6),
        )
        for e, split in zip(made, splits, strict=True)
    ]
    write_metadata(directory, records)
    write_noto_notices(directory)
    report = BuildReport.of_records(name, directory, records, started, reused=sum(results[e][1] for e in made),
                                    skipped_missing=len(chosen) - len(made))
    write_build_info(
        directory,
        {
            "complete": True,
            "name": name,
            "source": SOURCE,
            "size": size,
            "upscale": upscale,
            "limit": limit,
            "val_size": val_size,
            "seed": seed,
            "images": report.images,
            "unique_captions": report.unique_captions,
            "skipped_missing": report.skipped_missing,
        },
    )
    return report
