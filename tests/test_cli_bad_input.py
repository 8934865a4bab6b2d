"""Bad input on the command line: one line on stderr, a non-zero exit, no traceback (cheap cases, no training)."""
from __future__ import annotations

import pytest
import torch

from workbench.cli import main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


@pytest.mark.parametrize("prompt", ["", "   ", "кот\x00"])
def test_generate_refuses_bad_prompts(home, tmp_path, capsys, prompt):
    assert main(["generate", "--checkpoint", "1", "--prompt", prompt, "--out", str(tmp_path / "out")]) == 1
    assert "prompt" in _one_error_line(capsys)


@pytest.mark.parametrize("key", ["999", "9" * 30, "²"])  # "²" is a digit to str.isdigit, not to int
def test_generate_unknown_checkpoint_id(home, tmp_path, capsys, key):
    assert main(["generate", "--checkpoint", key, "--prompt", "кот", "--out", str(tmp_path / "out")]) == 1
    assert "checkpoint" in _one_error_line(capsys)


@pytest.mark.parametrize("option", [["--checkpoint", "9" * 30], ["--samples", "9" * 30]])
def test_stickers_id_beyond_the_integer_range_is_not_found(home, tmp_path, capsys, option):
    assert main(["stickers", "export", *option, "--out", str(tmp_path / "out")]) == 1
    assert "not found" in _one_error_line(capsys)


@pytest.mark.parametrize("content", [{"weights": 1}, [1, 2], b"junk"])
def test_generate_refuses_a_file_that_is_not_a_training_checkpoint(home, tmp_path, capsys, content):
    path = tmp_path / "foreign.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    assert main(["generate", "--checkpoint", str(path), "--prompt", "кот", "--out", str(tmp_path / "out")]) == 1
    assert str(path) in _one_error_line(capsys)


@pytest.mark.parametrize("key", ["no-such-run", "9" * 30, "²"])
def test_resume_unknown_run(home, capsys, key):
    assert main(["train", "--resume", key]) == 1
    assert f"run {key!r} not found" in _one_error_line(capsys)


def test_segment_predict_missing_input_says_only_that(home, tmp_path, capsys):
    assert main(["segment", "predict", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 1
    assert "does not exist" in _one_error_line(capsys)
    (tmp_path / "in").mkdir()
    (tmp_path / "file").write_text("x")
    assert main(["segment", "predict", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "file")]) == 1
    assert "is a file, not a folder" in _one_error_line(capsys)


def test_segment_round_refuses_an_unknown_gate_before_training(home, capsys):
    assert main(["segment", "round", "--gate", "strict", "--encoder", "resnet18"]) == 1
    assert "unknown gate 'strict'" in _one_error_line(capsys)


@pytest.mark.parametrize(
    "option", [["--image-size", "100"], ["--epochs", "0"], ["--steps", "0"], ["--lr", "0"], ["--device", "tpu9"]]
)
def test_segment_round_checks_its_options_before_training(home, capsys, option):
    assert main(["segment", "round", "--encoder", "resnet18", *option]) == 2
    err = capsys.readouterr().err
    assert "Invalid value" in err and "Traceback" not in err


def test_unmigrated_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMOJICH_HOME", str(tmp_path))
    monkeypatch.setenv("EMOJICH_DB", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["generate", "--checkpoint", "1", "--prompt", "кот", "--out", str(tmp_path / "out")]) == 1
    assert "emojich db upgrade" in _one_error_line(capsys)


def test_database_passwords_are_never_shown():
    from db.migrate import display_url

    assert display_url("postgresql+psycopg://ann:s3cret@db.local/emojich") == "postgresql+psycopg://ann:***@db.local/emojich"
    assert display_url("sqlite:////tmp/emojich.db") == "sqlite:////tmp/emojich.db"


# ---- issue 17: input that still ended in a traceback (each: one line, non-zero exit, nothing written)


def _nothing_written(home, engine) -> None:
    from sqlalchemy import func, select

    from db.engine import read_session
    from db.models import Run

    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0
    assert not (home / "datasets").exists() and not (home / "models").exists() and not (home / "checkpoints").exists()


def test_config_file_that_is_not_utf8(home, engine, tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    assert main(["train", "--config", str(path)]) == 1
    line = _one_error_line(capsys)
    assert str(path) in line and "UTF-8" in line
    _nothing_written(home, engine)


@pytest.mark.parametrize("override", ["train.seed=2**70", f"train.seed={2 ** 70}", f"sampling.seed={2 ** 64}",
                                      f"vae.seed={-2 ** 63 - 1}", "train.seed=-1"])
def test_seed_out_of_range_is_refused_before_anything_is_written(home, engine, capsys, override):
    assert main(["train", "--config", "smoke", "--name", "seeded", "--set", override]) == 1
    assert override.split("=")[0] in _one_error_line(capsys)
    _nothing_written(home, engine)


@pytest.mark.parametrize("override", ['name="abc', "name='abc", "train.freeze=[\"mlp\"", "model.name={"])
def test_malformed_override_value_is_not_taken_as_a_string(home, engine, capsys, override):
    assert main(["train", "--config", "smoke", "--set", override]) == 1
    line = _one_error_line(capsys)
    assert override.split("=")[0] in line and "malformed" in line
    _nothing_written(home, engine)


def test_bare_words_in_overrides_are_still_strings():
    from training.config import load_config

    assert load_config("smoke", ["name=smoke-b", "data.dataset=noto-ru"]).name == "smoke-b"


def test_unknown_revision_for_db_upgrade(tmp_path, monkeypatch, capsys):
    db = tmp_path / "fresh" / "emojich.db"
    monkeypatch.setenv("EMOJICH_HOME", str(tmp_path))
    monkeypatch.setenv("EMOJICH_DB", f"sqlite:///{db}")
    assert main(["db", "upgrade", "nonsense"]) == 1
    assert "nonsense" in _one_error_line(capsys)
    assert not db.exists() and not db.parent.exists()


@pytest.mark.parametrize("url", ["mysql://ann:s3cret@db.local/emojich", "mssql+pyodbc://ann:s3cret@db.local/x",
                                 "not a url"])
@pytest.mark.parametrize("command", [["db", "upgrade"], ["train", "--config", "smoke"], ["raters", "list"]])
def test_database_url_without_its_driver(tmp_path, monkeypatch, capsys, url, command):
    monkeypatch.setenv("EMOJICH_HOME", str(tmp_path))
    monkeypatch.delenv("EMOJICH_DB", raising=False)
    assert main(["--db", url, *command]) == 1
    line = _one_error_line(capsys)
    assert "database" in line and "s3cret" not in line
    assert list(tmp_path.iterdir()) == []
