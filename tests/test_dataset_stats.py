"""Dataset statistics: SQL and metadata agree; the Figure 2 histogram is saved as a PNG."""

from __future__ import annotations

from PIL import Image

from db.engine import read_session
from tests.fixtures_dataset import TINY_IMAGES, TINY_NAME, TINY_VAL_SIZE
from training.dataset import compute_stats, read_metadata, save_word_count_histogram, stats_from_records
from training.dataset.stats import DatasetStats


def test_sql_stats_match_the_metadata(engine, tiny_dataset):
    with read_session(engine) as s:
        from_db = compute_stats(s, TINY_NAME)
    from_disk = stats_from_records(TINY_NAME, read_metadata(tiny_dataset.directory))
    assert (from_db.images, from_db.val, from_db.train) == (
        TINY_IMAGES,
        TINY_VAL_SIZE,
        TINY_IMAGES - TINY_VAL_SIZE,
    )
    assert dict(from_db.word_counts) == dict(from_disk.word_counts)
    assert from_db.unique_captions == from_disk.unique_captions
    assert abs(from_db.mean_white_share - from_disk.mean_white_share) < 1e-6
    assert from_db.short_share == from_disk.short_share


def test_short_share_lines_and_histogram(tmp_path):
    stats = DatasetStats("x", images=10, train=8, val=2, unique_captions=7, word_counts={1: 4, 2: 3, 5: 3})
    assert stats.short_share == 0.7
    lines = stats.lines()
    assert "1–2-word captions: 70.0% of images" in lines
    assert lines[-1].startswith("   5:      3  ")
    png = save_word_count_histogram(stats, tmp_path / "sub" / "hist.png")
    assert Image.open(png).size == (600, 350)
    assert DatasetStats("empty", 0, 0, 0, 0).short_share == 0.0
