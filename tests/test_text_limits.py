"""Column limits hold the same on SQLite and PostgreSQL (db/limits.py): too-long or NUL-bearing text is
refused in db/ with one clear message before anything is written, and a folder import skips such a
caption before writing its file."""
from __future__ import annotations

import csv

import pytest
from PIL import Image
from sqlalchemy import func, select

from db.engine import make_engine, read_session, write_session
from db.limits import TextTooLong
from db.migrate import downgrade, upgrade
from db.models import DatasetItem, PromptSet, Rater, Run
from db.raters import add_rater
from db.runs import add_metrics, add_run
from db.samples import ensure_prompt_set


def _count(engine, model) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def check_the_same_text_is_refused_the_same_way(engine):
    cases = [
        (lambda s: add_rater(s, "r" * 300), "rater name is 300 characters long; at most 100 fit", Rater),
        (lambda s: add_rater(s, "nul\x00name"), "rater name contains a NUL character", Rater),
        (lambda s: add_run(s, "x" * 201, {}), "run name is 201 characters long; at most 200 fit", Run),
        (lambda s: ensure_prompt_set(s, "eval", ["кот", "п" * 10_000]), "prompt is 10,000 characters long; at most 500", PromptSet),
        (lambda s: s.add(DatasetItem(dataset="d", file="a.png", caption="к" * 10_000, source="s", license="l", split="train")),
         "caption is 10,000 characters long; at most 500 fit", DatasetItem),  # any ORM row: checked at flush
    ]
    for write, message, model in cases:
        with pytest.raises(TextTooLong, match=message):
            with write_session(engine) as s:
                write(s)
                s.flush()
        assert _count(engine, model) == 0
    with write_session(engine) as s:
        run = add_run(s, "ok", {})
        with pytest.raises(TextTooLong, match="metric name"):
            add_metrics(s, run.id, 1, {"m" * 51: 1.0})
    assert add_rater_ok(engine, "r" * 100) == "r" * 100  # at the limit is fine on both


def add_rater_ok(engine, name):
    with write_session(engine) as s:
        return add_rater(s, name)[0].name


def test_on_sqlite(engine):
    check_the_same_text_is_refused_the_same_way(engine)


@pytest.mark.postgres
def test_on_postgres(pg_url):
    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        check_the_same_text_is_refused_the_same_way(engine)
    finally:
        engine.dispose()


def test_cli_refuses_a_300_character_rater_name_in_one_line(home, engine, capsys):
    from workbench.cli import main

    assert main(["raters", "add", "n" * 300]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "rater name is 300 characters long; at most 100 fit" in err
    assert _count(engine, Rater) == 0


def test_folder_import_skips_a_caption_too_long_before_writing_its_file(tmp_path):
    from training.dataset import import_folder

    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("ok.png", "long.png"):
        Image.new("RGBA", (24, 24), (200, 0, 0, 255)).save(folder / name)
    with (folder / "captions.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["file", "caption"], ["ok.png", "красный круг"], ["long.png", "к" * 10_000]])
    report = import_folder(tmp_path / "home", folder, name="limits", size=16, val_size=0)
    written = sorted(p.name for p in (tmp_path / "home" / "datasets" / "limits" / "rgba").iterdir())
    assert len(written) == 1 and "long" not in written[0]
    assert any("caption is 10,000 characters long; at most 500 fit" in line for line in report.problems)
