"""Registering a dataset folder: items, ground-truth masks, one transaction, idempotence; db queries."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from db.dataset import (
    caption_word_counts,
    count_ground_truth_masks,
    count_items,
    count_unique_captions,
    list_datasets,
    list_items,
)
from db.engine import read_session
from db.errors import EmojichError
from db.models import DatasetItem, Mask
from db.models import Image as ImageRow
from tests.fixtures_dataset import TINY_IMAGES, TINY_NAME, TINY_VAL_SIZE
from training.dataset import read_metadata, register_dataset


def test_registration_adds_items_and_ground_truth_masks(engine, tiny_dataset):
    assert tiny_dataset.name == TINY_NAME and tiny_dataset.items == TINY_IMAGES
    with read_session(engine) as s:
        assert count_items(s, TINY_NAME) == TINY_IMAGES
        assert count_items(s, TINY_NAME, "val") == TINY_VAL_SIZE
        val = list_items(s, TINY_NAME, "val")
        assert {i.split for i in val} == {"val"}
        assert count_ground_truth_masks(s, TINY_NAME) == TINY_IMAGES
        assert count_ground_truth_masks(s, TINY_NAME, for_validation=True) == TINY_VAL_SIZE
        item = next(i for i in list_items(s, TINY_NAME) if i.emoji == "😀")
        mask = s.scalar(select(Mask).where(Mask.dataset_item_id == item.id))
        assert (mask.source, mask.status, mask.for_validation) == (
            "ground_truth",
            "accepted",
            item.split == "val",
        )
        png = s.get(ImageRow, mask.image_sha256).png
        stored = np.asarray(Image.open(io.BytesIO(png)))
        on_disk = np.asarray(Image.open(tiny_dataset.directory / "mask" / item.file))
        assert (stored == on_disk).all()
        assert item.caption == "широко улыбается" and item.white_share is not None


def test_registering_twice_adds_nothing(engine, tiny_dataset):
    assert register_dataset(engine, tiny_dataset.directory) == 0
    with read_session(engine) as s:
        assert s.scalar(select(func.count(DatasetItem.id))) == TINY_IMAGES
        assert s.scalar(select(func.count(Mask.id))) == TINY_IMAGES


def test_stats_queries(engine, tiny_dataset):
    with read_session(engine) as s:
        counts = caption_word_counts(s, TINY_NAME)
        assert sum(counts.values()) == TINY_IMAGES
        expected = {}
        for r in read_metadata(tiny_dataset.directory):
            n = len(r.caption.split())
            expected[n] = expected.get(n, 0) + 1
        assert counts == expected
        unique = len({r.caption for r in read_metadata(tiny_dataset.directory)})
        assert count_unique_captions(s, TINY_NAME) == unique
        (summary,) = list_datasets(s)
        assert (summary.name, summary.items, summary.val, summary.train) == (
            TINY_NAME,
            TINY_IMAGES,
            TINY_VAL_SIZE,
            TINY_IMAGES - TINY_VAL_SIZE,
        )
        with pytest.raises(ValueError):
            list_items(s, TINY_NAME, "test")


def test_a_missing_mask_registers_nothing(engine, tiny_dataset_dir, tmp_path):
    broken = tmp_path / "broken-ru"
    shutil.copytree(tiny_dataset_dir, broken)
    last = read_metadata(broken)[-1]
    (broken / "mask" / last.file).unlink()
    with pytest.raises(EmojichError, match="cannot read mask"):
        register_dataset(engine, broken)
    with read_session(engine) as s:
        assert count_items(s, "broken-ru") == 0
        assert s.scalar(select(func.count(Mask.id))) == 0


def test_changed_split_moves_the_mask_out_of_validation(engine, tiny_dataset, tmp_path):
    moved = tmp_path / TINY_NAME
    shutil.copytree(tiny_dataset.directory, moved)
    lines = (
        (moved / "metadata.jsonl").read_text(encoding="utf-8").replace('"split": "val"', '"split": "train"')
    )
    (moved / "metadata.jsonl").write_text(lines, encoding="utf-8")
    assert register_dataset(engine, moved) == 0
    with read_session(engine) as s:
        assert count_items(s, TINY_NAME, "val") == 0
        assert count_ground_truth_masks(s, TINY_NAME, for_validation=True) == 0


def test_unbuilt_folder_is_a_clear_error(engine, tmp_path):
    with pytest.raises(EmojichError, match="emojich dataset build"):
        register_dataset(engine, tmp_path / "nothing")
