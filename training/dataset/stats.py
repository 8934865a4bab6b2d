"""Dataset statistics: counts, unique captions and the caption word-count histogram (the
report's Figure 2: 1–7 words, about 67 % of samples one or two words)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from db.dataset import caption_word_counts, count_items, count_unique_captions, mean_white_share
from training.dataset.layout import ItemRecord

HISTOGRAM_FILE = "caption_word_counts.png"


@dataclass(frozen=True)
class DatasetStats:
    name: str
    images: int
    train: int
    val: int
    unique_captions: int
    word_counts: Mapping[int, int] = field(default_factory=dict)  # words per caption → images
    mean_white_share: float | None = None

    @property
    def short_share(self) -> float:
        """Share of images whose caption has one or two words."""
        short = sum(n for words, n in self.word_counts.items() if words <= 2)
        return short / self.images if self.images else 0.0

    def lines(self) -> list[str]:
        out = [
            f"dataset {self.name}: {self.images} images ({self.train} train, {self.val} val)",
            f"unique captions: {self.unique_captions}",
            f"1–2-word captions: {self.short_share:.1%} of images",
        ]
        if self.mean_white_share is not None:
            out.append(f"mean near-white share of the foreground: {self.mean_white_share:.3f}")
        out.append("words per caption: images")
        width = max(self.word_counts.values(), default=0)
        for words, n in sorted(self.word_counts.items()):
            bar = "#" * max(1, round(40 * n / width)) if width else ""
            out.append(f"{words:>4}: {n:>6}  {bar}")
        return out


def compute_stats(session: Session, dataset: str) -> DatasetStats:
    """Statistics of a registered dataset, computed in SQL."""
    return DatasetStats(
        name=dataset,
        images=count_items(session, dataset),
        train=count_items(session, dataset, "train"),
        val=count_items(session, dataset, "val"),
        unique_captions=count_unique_captions(session, dataset),
        word_counts=caption_word_counts(session, dataset),
        mean_white_share=mean_white_share(session, dataset),
    )


def stats_from_records(name: str, records: Iterable[ItemRecord]) -> DatasetStats:
    """The same statistics from metadata records (a folder not registered in a database)."""
    records = list(records)
    shares = [r.white_share for r in records if r.white_share is not None]
    return DatasetStats(
        name=name,
        images=len(records),
        train=sum(r.split == "train" for r in records),
        val=sum(r.split == "val" for r in records),
        unique_captions=len({r.caption for r in records}),
        word_counts=dict(sorted(Counter(len(r.caption.split()) for r in records).items())),
        mean_white_share=sum(shares) / len(shares) if shares else None,
    )


def save_word_count_histogram(stats: DatasetStats, path: Path) -> Path:
    """Figure 2 as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    words = sorted(stats.word_counts)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.bar(words, [stats.word_counts[w] for w in words], color="#4c72b0")
    ax.set_xticks(words)
    ax.set_xlabel("words per caption")
    ax.set_ylabel("images")
    ax.set_title(f"{stats.name}: {stats.images} images, {stats.short_share:.0%} with 1–2 words")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
