"""The Russian-captioned emoji dataset: build (Noto Color Emoji + CLDR), import (folder + CSV),
register in the database, statistics. Heavy imports stay inside the submodules."""

from training.dataset.captions import normalize_caption
from training.dataset.folder import import_folder
from training.dataset.layout import DatasetNotFound, ItemRecord, dataset_dir, read_metadata
from training.dataset.noto import build_noto_dataset
from training.dataset.register import register_dataset
from training.dataset.report import BuildReport
from training.dataset.stats import DatasetStats, compute_stats, save_word_count_histogram, stats_from_records

__all__ = [
    "BuildReport",
    "DatasetStats",
    "DatasetNotFound",
    "ItemRecord",
    "build_noto_dataset",
    "compute_stats",
    "dataset_dir",
    "import_folder",
    "normalize_caption",
    "read_metadata",
    "register_dataset",
    "save_word_count_histogram",
    "stats_from_records",
]
