"""What a build or import did, for the CLI, the workbench and the bench script."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BuildReport:
    name: str
    directory: Path
    images: int = 0
    unique_captions: int = 0
    train: int = 0
    val: int = 0
    reused: int = 0
    skipped_missing: int = 0  # emoji the font has no single glyph for
    problems: list[str] = field(default_factory=list)  # one line per bad or normalised input file
    elapsed_s: float = 0.0

    @classmethod
    def of_records(cls, name: str, directory: Path, records: Sequence, started: float, **extra) -> BuildReport:
        """Counts from the written records (`ItemRecord`s); `started` is the build's perf_counter start."""
        return cls(
            name=name,
            directory=directory,
            images=len(records),
            unique_captions=len({r.caption for r in records}),
            train=sum(r.split == "train" for r in records),
            val=sum(r.split == "val" for r in records),
            elapsed_s=time.perf_counter() - started,
            **extra,
        )

    def summary(self) -> str:
        parts = [
            f"dataset {self.name}: {self.images} images ({self.train} train, {self.val} val)",
            f"{self.unique_captions} unique captions",
            f"{self.reused} reused",
        ]
        if self.skipped_missing:
            parts.append(f"{self.skipped_missing} emoji skipped (not in the font)")
        if self.problems:
            parts.append(f"{len(self.problems)} input notes above")
        return ", ".join(parts) + f", {self.elapsed_s:.1f} s → {self.directory}"
