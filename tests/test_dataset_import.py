"""`--source folder`: a folder of images + CSV, with every kind of bad input made in the test."""

from __future__ import annotations

import csv
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from db.dataset import count_ground_truth_masks, count_items, list_items
from db.engine import read_session
from db.errors import EmojichError
from training.dataset import import_folder, read_metadata, register_dataset
from training.dataset.folder import output_name, read_caption_csv
from training.dataset.safe_image import BadInputFile, load_rgba

RED, BLUE = (220, 0, 0, 255), (0, 0, 220, 255)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny file whose header claims 1.6 G pixels (never decoded)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _emoji_like(size: int = 40) -> Image.Image:
    """A red disc on transparency with a white highlight."""
    yy, xx = np.mgrid[:size, :size]
    disc = (xx - size / 2 + 0.5) ** 2 + (yy - size / 2 + 0.5) ** 2 < (size * 0.4) ** 2
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[disc] = RED
    pixels[size // 2 - 2 : size // 2 + 2, size // 2 - 2 : size // 2 + 2] = (255, 255, 255, 255)
    return Image.fromarray(pixels, "RGBA")


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def messy_folder(tmp_path):
    """Kaggle-like layout: images/ plus a CSV (file, caption), with one file of every bad kind."""
    folder = tmp_path / "russian-emoji"
    images = folder / "images"
    images.mkdir(parents=True)
    good = _save(_emoji_like(), "PNG")
    palette = Image.fromarray((np.asarray(_emoji_like())[..., 3] > 0).astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 220, 0, 0])  # index 0 (transparent) black, index 1 red
    la = Image.merge("LA", (Image.new("L", (30, 30), 90), _emoji_like(30).getchannel("A")))
    sixteen = Image.fromarray(np.full((24, 24), 32768, np.uint16))
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    rotated = Image.new("RGBA", (40, 20), RED)
    rotated.paste(Image.new("RGBA", (20, 20), BLUE), (20, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display needs a 90° clockwise turn
    files = {
        "smile.png": good,
        "Ёлка 1.png": good,
        "empty.png": b"",
        "truncated.png": good[: len(good) // 2],
        "notes.png": "это не картинка\n".encode() * 20,
        "vector.png": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><circle r="5"/></svg>',
        "bomb.png": _bomb_png(5000, 5000),  # over our cap, under Pillow's own
        "huge.png": _bomb_png(),  # over Pillow's own limit too
        "animated.gif": gif.getvalue(),
        "palette.png": _save(palette, "PNG", transparency=0),
        "grey_alpha.png": _save(la, "PNG"),
        "sixteen.png": _save(sixteen, "PNG"),
        "cmyk.jpg": _save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95),
        "rotated.png": _save(rotated, "PNG", exif=exif),
    }
    for name, data in files.items():
        (images / name).write_bytes(data)
    with (folder / "russian_emoji.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "text"])
        writer.writerow(["images/smile.png", "Улыбка"])
        writer.writerow(["images/Ёлка 1.png", "Зелёная  ЁЛКА"])
        for name in list(files)[2:]:
            writer.writerow([f"images/{name}", f"картинка {name.split('.')[0]}"])
        writer.writerow(["images/missing.png", "нет файла"])
        writer.writerow(["images/smile.png", ""])
    return folder


def _problem(report, file: str) -> str:
    (line,) = [p for p in report.problems if p.startswith(f"images/{file}:")]
    return line


def test_import_reports_each_bad_file_and_imports_the_rest(tmp_path, messy_folder):
    report = import_folder(tmp_path / "home", messy_folder, name="ru-emoji", size=32, val_size=2)
    skipped = {
        "empty.png": "empty file",
        "truncated.png": "truncated or corrupt",
        "notes.png": "not an image",
        "vector.png": "SVG",
        "bomb.png": "too many pixels (5000×5000",
        "huge.png": "decompression bomb",
        "missing.png": "not found",
    }
    for file, reason in skipped.items():
        line = _problem(report, file)
        assert "skipped" in line and reason in line, line
    normalised = {
        "animated.gif": "animated (3 frames): first frame used",
        "palette.png": "palette",
        "grey_alpha.png": "LA",
        "sixteen.png": "16-bit",
        "cmyk.jpg": "CMYK",
        "rotated.png": "EXIF orientation 6: transposed",
    }
    for file, note in normalised.items():
        line = _problem(report, file)
        assert "normalised" in line and note in line, line
    assert any("empty file name or caption" in p for p in report.problems)
    assert report.images == 2 + len(normalised)
    assert (report.train, report.val) == (report.images - 1, 1)  # capped at a fifth of 8

    records = {r.file: r for r in read_metadata(report.directory)}
    assert records["images__smile.png"].caption == "улыбка"
    assert records[output_name("images/Ёлка 1.png")].caption == "зелёная ёлка"  # "ё" kept: Malevich knows it
    assert records["images__smile.png"].source == "folder:russian-emoji"
    for record in records.values():
        for sub in ("rgba", "rgb", "mask"):
            assert Image.open(report.directory / sub / record.file).size == (32, 32)


def test_normalised_pixels_are_right(tmp_path, messy_folder):
    images = messy_folder / "images"
    first = np.asarray(load_rgba(images / "animated.gif").image)
    assert tuple(first[10, 10]) == (255, 0, 0, 255)  # the first frame, not the last
    grey = np.asarray(load_rgba(images / "sixteen.png").image)
    assert tuple(grey[5, 5]) == (128, 128, 128, 255)  # 32768/65535, not clipped to 255
    turned = load_rgba(images / "rotated.png")
    pixels = np.asarray(turned.image)
    assert turned.image.size == (40, 40)  # 20×40 after the turn, padded to a square
    assert tuple(pixels[5, 20]) == RED and tuple(pixels[35, 20]) == BLUE  # left half went to the top
    assert tuple(pixels[20, 2]) == (0, 0, 0, 0)  # padding is transparent
    palette = np.asarray(load_rgba(images / "palette.png").image)
    assert palette[0, 0, 3] == 0 and palette[20, 20, 3] == 255
    cmyk = np.asarray(load_rgba(images / "cmyk.jpg").image)
    assert cmyk[16, 16, 0] > 240 and cmyk[16, 16, 1] < 15
    with pytest.raises(BadInputFile, match="too many pixels"):
        load_rgba(images / "smile.png", max_pixels=100)


def test_imported_dataset_registers_in_one_go(tmp_path, engine, messy_folder):
    report = import_folder(tmp_path / "home", messy_folder, name="ru-emoji", size=32, val_size=2)
    assert register_dataset(engine, report.directory) == report.images
    assert register_dataset(engine, report.directory) == 0
    with read_session(engine) as s:
        assert count_items(s, "ru-emoji") == report.images
        assert count_ground_truth_masks(s, "ru-emoji") == report.images
        smile = next(i for i in list_items(s, "ru-emoji") if i.file == "images__smile.png")
        assert smile.emoji is None and smile.license.startswith("as in the source")


def test_rgb_rule_applies_to_imported_images(tmp_path, messy_folder):
    report = import_folder(tmp_path / "home", messy_folder, name="ru-emoji", size=40, val_size=0)
    rgb = np.asarray(Image.open(report.directory / "rgb" / "images__smile.png"))
    mask = np.asarray(Image.open(report.directory / "mask" / "images__smile.png"))
    assert tuple(rgb[0, 0]) == (255, 255, 255) and mask[0, 0] == 0
    assert tuple(rgb[12, 20]) == (220, 0, 0) and mask[12, 20] == 255


def test_csv_without_header_and_errors(tmp_path, messy_folder):
    plain = tmp_path / "plain.csv"
    plain.write_text("images/smile.png,Улыбка\nimages/smile.png\n", encoding="utf-8")
    entries, problems = read_caption_csv(plain)
    assert entries == [{"file": "images/smile.png", "caption": "улыбка", "emoji": None, "license": None}]
    assert problems == ["plain.csv:2: skipped: fewer than two columns"]
    (messy_folder / "other.csv").write_text("file,caption\n", encoding="utf-8")
    with pytest.raises(EmojichError, match="pass --csv"):
        import_folder(tmp_path / "home", messy_folder)
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text("file,caption\nimages/empty.png,пусто\n", encoding="utf-8")
    with pytest.raises(EmojichError, match="nothing importable"):
        import_folder(tmp_path / "home", messy_folder, csv_path=only_bad)
    with pytest.raises(EmojichError, match="not a folder"):
        import_folder(tmp_path / "home", tmp_path / "nope")


def test_files_are_found_by_name_in_subfolders(tmp_path, messy_folder):
    (messy_folder / "rgba_valid").mkdir()
    (messy_folder / "rgba_valid" / "animated.gif").write_bytes(
        (messy_folder / "images" / "animated.gif").read_bytes()
    )
    listing = tmp_path / "names.csv"
    listing.write_text("image_name,text\nsmile.png,улыбка\nanimated.gif,кадры\n", encoding="utf-8")
    report = import_folder(
        tmp_path / "home", messy_folder, name="by-name", csv_path=listing, size=32, val_size=0
    )
    assert report.images == 1 and read_metadata(report.directory)[0].file == "smile.png"
    assert report.problems == [
        "animated.gif: skipped: ambiguous: a file of that name is in images, rgba_valid"
    ]


# ---- issue 17: every row resolves inside the folder or is skipped; huge fields are one skipped row


def _write_csv(path, rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "caption"])
        writer.writerows(rows)


def test_rows_outside_the_folder_are_skipped_without_saying_whether_they_exist(tmp_path, messy_folder):
    good = (messy_folder / "images" / "smile.png").read_bytes()
    (tmp_path / "secret.png").write_bytes(good)  # next to the CSV, outside the folder
    (messy_folder / "images" / "link.png").symlink_to(tmp_path / "secret.png")  # a link leading out
    (messy_folder / "images" / "dangling.png").symlink_to(tmp_path / "nothing.png")
    outside = ["../secret.png", "../nothing.png", str(tmp_path / "secret.png"), "/etc/passwd", "/no/such.png",
               "images/../../secret.png", "images/link.png", "images/dangling.png"]
    listing = tmp_path / "rows.csv"  # outside the folder: rows relative to it must still land inside
    _write_csv(listing, [(f, f"строка {i}") for i, f in enumerate(outside)]
               + [("secret.png", "рядом с csv"), ("images/smile.png", "улыбка")])
    report = import_folder(tmp_path / "home", messy_folder, name="inside", csv_path=listing, size=32, val_size=0)
    assert report.images == 1 and read_metadata(report.directory)[0].file == "images__smile.png"
    reasons = {p.split(": skipped: ")[0]: p.split(": skipped: ")[1] for p in report.problems}
    assert set(reasons) == {*outside, "secret.png"}
    assert {reasons[f] for f in outside} == {"outside the dataset folder (not read)"}  # one answer, exists or not
    assert reasons["secret.png"] == "listed in the CSV but not found"  # looked for in the folder only
    assert sorted(p.name for p in (report.directory / "rgb").iterdir()) == ["images__smile.png"]


def test_a_huge_field_or_file_name_is_one_skipped_row(tmp_path, messy_folder):
    deep = messy_folder / ("д" * 100) / ("е" * 100)  # 200-byte folder names: each fits, the flat name would not
    deep.mkdir(parents=True)
    (deep / "smile.png").write_bytes((messy_folder / "images" / "smile.png").read_bytes())
    listing = tmp_path / "rows.csv"
    rows = [("images/smile.png", "а" * 200_000), ("x" * 5000 + ".png", "кот"), ("images/" + "я" * 300 + ".png", "я"),
            ("b" * 200_000, "поле"), (f"{'д' * 100}/{'е' * 100}/smile.png", "глубоко"), ("images/Ёлка 1.png", "ёлка")]
    _write_csv(listing, rows)
    report = import_folder(tmp_path / "home", messy_folder, name="long", csv_path=listing, size=32, val_size=0)
    assert report.images == 2, report.problems
    assert len(report.problems) == 4 and all("skipped" in p and len(p) < 300 for p in report.problems)
    files = {r.caption: r.file for r in read_metadata(report.directory)}
    assert set(files) == {"глубоко", "ёлка"} and len(files["глубоко"].encode()) <= 200
    assert (report.directory / "rgb" / files["глубоко"]).is_file()


def test_a_field_beyond_the_csv_module_limit_is_one_skipped_line(tmp_path, messy_folder):
    listing = tmp_path / "rows.csv"
    listing.write_text("file,caption\nimages/smile.png,\"" + "б" * 300_000 + "\"\nimages/Ёлка 1.png,ёлка\n",
                       encoding="utf-8")
    entries, problems = read_caption_csv(listing)
    assert [e["caption"] for e in entries] == ["ёлка"]
    assert problems == ["rows.csv:2: skipped: caption is 300,000 characters long; at most 500 fit"]
