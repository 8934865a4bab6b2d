"""The Noto + CLDR build: captions, the report's RGB rule on real pixels, masks, split, reuse."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from db.errors import EmojichError
from tests.fixtures_dataset import TINY_EMOJI, TINY_IMAGES, TINY_SIZE, TINY_VAL_SIZE
from training.dataset import build_noto_dataset, normalize_caption, read_metadata
from training.dataset.alpha import alpha_mask, rgba_to_rgb, white_share
from training.dataset.captions import caption_key, cldr_captions, clean_cldr_name
from training.dataset.layout import read_build_info
from training.dataset.noto import emoji_file
from training.dataset.split import assign_splits


def _by_emoji(directory):
    return {r.emoji: r for r in read_metadata(directory)}


def test_captions_come_from_cldr_russian_names(tiny_dataset_dir):
    items = _by_emoji(tiny_dataset_dir)
    assert len(items) == TINY_IMAGES
    assert items["😀"].caption == "широко улыбается"
    assert items["🇯🇵"].caption == "флаг япония"  # "флаг: Япония" without the separator
    assert items["🏰"].caption == "замок"
    assert items["👍🏽"].caption == items["👍"].caption == "большой палец вверх"  # tones share
    assert "{" not in items  # the font has no glyph: skipped, not rendered as a box
    assert items["👍🏻"].codepoints == "U+1F44D U+1F3FB"
    assert items["👍🏻"].file == "emoji_u1f44d_1f3fb.png"
    assert all(r.caption == r.caption.lower() for r in items.values())


def test_normalize_caption_lowercases_and_keeps_yo():
    assert normalize_caption("  Жёлтая   Звезда ") == "жёлтая звезда"
    assert caption_key("  Жёлтая   Звезда ") == "желтая звезда"  # only for comparing captions
    assert clean_cldr_name("семья: мужчина, женщина, девочка") == "семья мужчина женщина девочка"
    assert clean_cldr_name("офисный работник - мужчина") == "офисный работник мужчина"
    assert clean_cldr_name("я-тебя-люблю") == "я-тебя-люблю"
    assert len(cldr_captions()) > 4000


def test_rgb_rule_on_rendered_pixels(tiny_dataset_dir):
    for emoji in ("😀", "👍🏿", "🇯🇵", "⚪"):
        file = emoji_file(emoji)
        rgba = np.asarray(Image.open(tiny_dataset_dir / "rgba" / file).convert("RGBA")).astype(int)
        rgb = np.asarray(Image.open(tiny_dataset_dir / "rgb" / file))
        mask = np.asarray(Image.open(tiny_dataset_dir / "mask" / file))
        assert rgb.shape == (TINY_SIZE, TINY_SIZE, 3) and mask.shape == (TINY_SIZE, TINY_SIZE)
        alpha = rgba[..., 3]
        low, high = alpha < 128, alpha >= 128
        assert low.any() and high.any()
        assert (rgb[low] == 255).all()  # the report's rule: alpha < 128 → white
        expected = np.rint(rgba[..., :3] * (alpha[..., None] / 255) + 255 * (1 - alpha[..., None] / 255))
        assert np.abs(rgb[high].astype(int) - expected[high]).max() <= 1  # composited over white
        assert set(np.unique(mask)) <= {0, 255}
        assert ((mask == 255) == high).all()


def test_rgb_rule_on_a_synthetic_edge():
    rgba = Image.new("RGBA", (4, 1))
    rgba.putdata([(0, 0, 0, 0), (10, 20, 30, 127), (10, 20, 30, 128), (200, 0, 0, 255)])
    assert list(rgba_to_rgb(rgba).getdata()) == [
        (255, 255, 255),
        (255, 255, 255),
        (132, 137, 142),
        (200, 0, 0),
    ]
    assert list(alpha_mask(rgba).getdata()) == [0, 0, 255, 255]


def test_white_share_counts_near_white_foreground(tiny_dataset_dir):
    items = _by_emoji(tiny_dataset_dir)
    assert items["🇯🇵"].white_share > 0.5  # the flag's white field is foreground, not background
    assert items["⚽"].white_share > 0.3
    assert items["🔥"].white_share < 0.05
    rgb = Image.new("RGB", (2, 1), (255, 255, 255))
    rgb.putpixel((1, 0), (0, 0, 0))
    assert white_share(rgb, Image.new("L", (2, 1), 255)) == 0.5
    assert white_share(rgb, Image.new("L", (2, 1), 0)) == 0.0


def test_split_keeps_captions_whole_and_is_deterministic(tiny_dataset_dir):
    records = read_metadata(tiny_dataset_dir)
    sides = defaultdict(set)
    for r in records:
        sides[r.caption].add(r.split)
    assert all(len(s) == 1 for s in sides.values())
    assert sum(r.split == "val" for r in records) == TINY_VAL_SIZE

    captions = ["a"] * 6 + ["b"] * 6 + [f"c{i}" for i in range(88)]
    first = assign_splits(captions, val_size=10, seed=3)
    assert first == assign_splits(captions, val_size=10, seed=3)
    assert first.count("val") == 10
    assert len({s for c, s in zip(captions, first, strict=True) if c == "a"}) == 1
    assert first != assign_splits(captions, val_size=10, seed=4)
    # Asking for more validation than a fifth of the data is capped, so training keeps data.
    assert assign_splits(captions[:20], val_size=143).count("val") <= 4


def test_rebuild_reuses_files_and_metadata_is_stable(tmp_path):
    emoji = ("😀", "👍", "👍🏻", "🐱", "⚪")
    first = build_noto_dataset(tmp_path, name="t", size=32, emoji=emoji, val_size=1)
    meta = (first.directory / "metadata.jsonl").read_text(encoding="utf-8")
    second = build_noto_dataset(
        tmp_path, name="t", size=32, emoji=emoji + emoji[:2], val_size=1
    )  # dupes dropped
    assert (first.images, first.reused) == (5, 0)
    assert read_build_info(first.directory)["complete"] is True
    assert (second.images, second.reused) == (5, 5)
    assert (second.directory / "metadata.jsonl").read_text(encoding="utf-8") == meta
    line = json.loads(meta.splitlines()[0])
    assert set(line) == {
        "file",
        "caption",
        "emoji",
        "codepoints",
        "source",
        "license",
        "split",
        "white_share",
    }
    assert (first.directory / "NOTICE").read_text().count("Apache") >= 1
    assert (first.directory / "LICENSES" / "Unicode-3.0.txt").read_text().startswith("UNICODE LICENSE V3")
    # A different size redraws instead of reusing.
    third = build_noto_dataset(tmp_path, name="t", size=48, emoji=emoji, val_size=1)
    assert third.reused == 0
    assert Image.open(third.directory / "rgb" / emoji_file("😀")).size == (48, 48)


def test_default_size_is_256_and_limit_spreads(tmp_path):
    report = build_noto_dataset(tmp_path, limit=4, val_size=0)
    records = read_metadata(report.directory)
    assert report.directory == tmp_path / "datasets" / "noto-ru"
    assert report.images + report.skipped_missing == 4
    assert Image.open(report.directory / "rgba" / records[0].file).size == (256, 256)
    assert len({r.caption for r in records}) == len(records)  # spread over the list, not one family


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(EmojichError, match="no CLDR Russian name"):
        build_noto_dataset(tmp_path, emoji=["x😀"])
    with pytest.raises(EmojichError, match="size"):
        build_noto_dataset(tmp_path, size=4)
    with pytest.raises(EmojichError, match="RealESRGAN_x4.pth"):
        build_noto_dataset(tmp_path, emoji=["😀"], upscale="realesrgan")
    with pytest.raises(EmojichError, match="unknown upscaler"):
        build_noto_dataset(tmp_path, emoji=["😀"], upscale="bicubic")
    assert len(TINY_EMOJI) == TINY_IMAGES + 1


def test_process_pool_gives_the_same_dataset(tmp_path):
    emoji = ("😀", "👍", "👍🏻", "👍🏿", "🐱", "🇯🇵", "🏰", "{")
    one = build_noto_dataset(tmp_path / "a", size=32, emoji=emoji, val_size=1, workers=1)
    two = build_noto_dataset(tmp_path / "b", size=32, emoji=emoji, val_size=1, workers=2)
    assert read_metadata(one.directory) == read_metadata(two.directory)
    assert (two.images, two.skipped_missing) == (7, 1)
    for record in read_metadata(one.directory):
        a = (one.directory / "rgb" / record.file).read_bytes()
        assert a == (two.directory / "rgb" / record.file).read_bytes()
