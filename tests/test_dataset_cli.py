"""`emojich dataset build|stats|list` through the real CLI entry point."""

from __future__ import annotations

from PIL import Image

from db.dataset import count_items
from db.engine import make_engine, read_session
from workbench.cli import main


def test_build_stats_and_list(home, db_url, capsys):
    assert main(["dataset", "build", "--limit", "30", "--size", "32", "--val-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "dataset noto-ru:" in out and "registered" in out
    engine = make_engine(db_url)
    with read_session(engine) as s:
        images = count_items(s, "noto-ru")
        assert images > 20 and count_items(s, "noto-ru", "val") == 3
    engine.dispose()
    assert (home / "datasets" / "noto-ru" / "rgb").is_dir()

    assert main(["dataset", "build", "--limit", "30", "--size", "32", "--val-size", "3"]) == 0
    assert f"registered 0 new items in the database ({images} already there)" in capsys.readouterr().out

    assert main(["dataset", "stats"]) == 0
    out = capsys.readouterr().out
    assert f"dataset noto-ru: {images} images" in out and "1–2-word captions:" in out
    png = home / "datasets" / "noto-ru" / "caption_word_counts.png"
    assert Image.open(png).format == "PNG"

    assert main(["dataset", "list"]) == 0
    assert capsys.readouterr().out.startswith(f"noto-ru: {images} images")


def test_folder_import_prints_one_line_per_bad_file(home, db_url, tmp_path, capsys):
    folder = tmp_path / "my emoji"
    folder.mkdir()
    Image.new("RGBA", (20, 20), (0, 200, 0, 255)).save(folder / "a.png")
    (folder / "b.png").write_bytes(b"")
    (folder / "captions.csv").write_text(
        "file,caption\na.png,Зелёный квадрат\nb.png,пусто\n", encoding="utf-8"
    )
    assert main(["dataset", "build", "--source", "folder", str(folder), "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert "b.png: skipped: empty file (0 bytes)" in out
    assert "dataset my-emoji: 1 images" in out
    engine = make_engine(db_url)
    with read_session(engine) as s:
        assert count_items(s, "my-emoji") == 1
    engine.dispose()


def test_user_errors_are_one_line(home, capsys):
    assert main(["dataset", "build", "--source", "folder"]) == 1
    assert main(["dataset", "build", "--source", "web"]) == 1
    assert main(["dataset", "build", "--upscale", "realesrgan", "--limit", "2"]) == 1
    assert main(["dataset", "stats", "--name", "missing"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err)
    assert "RealESRGAN_x4.pth" in err[2] and "emojich dataset build" in err[3]
