"""The Russian-captioned emoji dataset: build (Noto Color Emoji + CLDR), import (folder + CSV),
register in the database, statistics. Heavy imports stay inside the submodules."""

from training.dataset.captions import normalize_caption
from training.dataset.folder import import_folder
from training.dataset.layout import DatasetNotFound, ItemRecord, dataset_dir, read_metadata
from training.dataset.noto import build_noto_dataset
from training.dataset.register import register_dataset
from training.dataset.report import BuildReport

__all__ = [
    "BuildReport",
    "DatasetNotFound",
    "ItemRecord",
    "build_noto_dataset",
    "dataset_dir",
    "import_folder",
    "normalize_caption",
    "read_metadata",
    "register_dataset",
]
