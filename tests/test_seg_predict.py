"""`segment predict` on a folder: RGBA + mask + predictions.csv for good files; one line and a
rejected row for each bad file (empty, corrupt, non-image, SVG, decompression bomb); 16-bit, float
and CMYK files are converted, not refused (every mode: test_image_modes.py)."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PIL import Image

from db.errors import EmojichError
from training.segmentation.image_input import RejectedImage, open_image
from training.segmentation.model import load_model
from training.segmentation.predict import PREDICTIONS_CSV, predict_folder

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GOOD = ("emoji_u1f600.png", "emoji_u1f34e.png", "emoji_u26bd.png")


@pytest.fixture
def mixed_folder(tmp_path, tiny_dataset_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(tiny_dataset_dir / "rgb" / name, folder / name)
    with Image.open(tiny_dataset_dir / "rgba" / GOOD[0]) as rgba:
        rgba.save(folder / "transparent.png")  # RGBA input: composited on white first
        rgba.convert("RGB").quantize(64).save(folder / "palette.gif")
        rgba.convert("L").save(folder / "grey.jpg")
    good_bytes = (folder / GOOD[1]).read_bytes()
    (folder / "truncated.png").write_bytes(good_bytes[: len(good_bytes) // 2])
    (folder / "notes.txt").write_text("not an image\n")
    Image.new("L", (5000, 5000), 255).save(folder / "bomb.png")  # 25 Mpx in a few KB
    Image.fromarray(np.full((64, 64), 40000, np.uint16)).save(folder / "sixteen_bit.png")
    Image.fromarray(np.zeros((64, 64), np.float32)).save(folder / "float.tif")
    Image.new("CMYK", (64, 64), (0, 0, 0, 0)).save(folder / "print.jpg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "vector.png").write_text('<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>')
    (folder / ".hidden.png").write_bytes(good_bytes)  # hidden files are not inputs
    (folder / "subfolder").mkdir()
    return folder


EXPECTED_REASONS = {
    "truncated.png": "truncated or corrupt image",
    "notes.txt": "not an image",
    "bomb.png": "too many pixels",
    "empty.png": "empty file",
    "vector.png": "SVG",
}
CONVERTED = {"sixteen_bit.png", "float.tif", "print.jpg"}


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


@pytest.mark.parametrize("with_model", [False, True])
def test_bad_files_are_rejected_one_line_each_and_the_rest_processed(mixed_folder, tmp_path, small_unet, with_model):
    out = tmp_path / "out"
    lines: list[str] = []
    model = load_model(small_unet) if with_model else None
    report = predict_folder(mixed_folder, out, model, warn=lines.append)
    assert len(lines) == len(EXPECTED_REASONS)
    for name, reason in EXPECTED_REASONS.items():
        assert sum(1 for line in lines if line.startswith(f"rejected {name}: {reason}")) == 1, (name, lines)
    rows = _rows(out / PREDICTIONS_CSV)
    assert set(rows) == set(GOOD) | {"transparent.png", "palette.gif", "grey.jpg"} | CONVERTED | set(EXPECTED_REASONS)
    for name, reason in EXPECTED_REASONS.items():
        assert rows[name]["status"] == "rejected" and reason in rows[name]["error"] and rows[name]["method"] == ""
    processed = [r for r in rows.values() if r["status"] == "ok"]
    assert len(processed) == len(report.processed) == 9
    for row in processed:
        assert row["method"] in ("unet", "contour")
        assert (row["confidence_mean"] != "") == with_model and (row["confidence_object"] != "") == with_model
        with Image.open(out / row["output"]) as rgba, Image.open(out / row["mask"]) as mask:
            assert rgba.mode == "RGBA" and mask.mode == "L" and rgba.size == mask.size
            assert np.array_equal(np.asarray(rgba)[..., 3], np.asarray(mask))
    if not with_model:
        with Image.open(out / "transparent.png") as rgba:  # contour method on the composited RGBA input
            alpha = np.asarray(rgba)[..., 3]
        assert alpha[32, 32] == 255 and alpha[0, 0] == 0


def test_same_stem_gets_distinct_outputs(tmp_path, tiny_dataset_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(tiny_dataset_dir / "rgb" / GOOD[0], folder / "a.png")
    with Image.open(tiny_dataset_dir / "rgb" / GOOD[1]) as image:
        image.save(folder / "a.jpg")
    report = predict_folder(folder, tmp_path / "out", None, warn=lambda _: None)
    # files in name order: a.jpg keeps the stem, a.png gets its full name
    assert [(r.file, r.output) for r in report.rows] == [("a.jpg", "a.png"), ("a.png", "a.png.png")]


def test_folders_are_checked(tmp_path):
    with pytest.raises(EmojichError, match="does not exist"):
        predict_folder(tmp_path / "missing", tmp_path / "out", None)
    with pytest.raises(EmojichError, match="must differ"):
        predict_folder(tmp_path, tmp_path, None)


def test_open_image_limits(tmp_path):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    with pytest.raises(RejectedImage, match="decompression bomb"):
        open_image(tmp_path / "big.png", max_pixels=99 * 99)
    assert open_image(tmp_path / "big.png").size == (100, 100)


def test_cli_predict_exit_codes(home, mixed_folder, tmp_path, tiny_dataset_dir, small_unet, capsys):
    from workbench.cli import main

    assert main(["segment", "predict", "--input", str(mixed_folder), "--output", str(tmp_path / "o1")]) == 2
    captured = capsys.readouterr()
    assert "no U-Net round yet" in captured.err
    assert captured.err.count("rejected ") == len(EXPECTED_REASONS)
    assert "9 segmented (unet 0, contour 9), 5 rejected" in captured.out
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in GOOD:
        shutil.copy(tiny_dataset_dir / "rgb" / name, clean / name)
    args = ["segment", "predict", "--input", str(clean), "--output", str(tmp_path / "o2"), "--model", str(small_unet)]
    assert main(args) == 0
    assert "3 segmented" in capsys.readouterr().out
    assert main(["segment", "predict", "--input", str(clean), "--output", str(tmp_path / "o3"),
                 "--model", str(tmp_path / "nope.pt")]) == 1
    assert "nope.pt not found" in capsys.readouterr().err
