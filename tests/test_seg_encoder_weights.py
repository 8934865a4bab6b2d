"""Segmentation encoder weights: looked for offline in the Hugging Face cache (smp's layout); when absent,
`segment round` says in one line which files are missing and where they go, and every round records
whether its encoder started from ImageNet weights."""
from __future__ import annotations

import json

import pytest
import segmentation_models_pytorch as smp
import torch

from training.segmentation.model import (
    SMALL_ENCODER,
    SMP_WEIGHT_FILES,
    build_model,
    encoder_weights,
    small_config,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache for this test (HF_HUB_CACHE)."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def _snapshot(cache, encoder):
    settings = smp.encoders.encoders[encoder]["pretrained_settings"]["imagenet"]
    repo = settings["repo_id"].replace("/", "--")
    return cache / f"models--{repo}" / "snapshots" / settings["revision"]


def _put_imagenet_weights(cache, encoder=SMALL_ENCODER) -> dict[str, torch.Tensor]:
    """smp's two files for `encoder`, in the cache layout smp reads (here: a real encoder's random init)."""
    from safetensors.torch import save_file

    torch.manual_seed(7)
    state = {k: v.contiguous() for k, v in smp.encoders.get_encoder(encoder).state_dict().items()}
    folder = _snapshot(cache, encoder)
    folder.mkdir(parents=True)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"encoder": encoder}))
    return state


def test_missing_weights_name_both_files_and_their_place(hub_cache):
    weights = encoder_weights("efficientnet-b7")
    assert not weights.pretrained
    folder = _snapshot(hub_cache, "efficientnet-b7")
    assert weights.missing == tuple(folder / name for name in SMP_WEIGHT_FILES)
    assert str(folder / "model.safetensors") in weights.note and "smp-hub/efficientnet-b7.imagenet" in weights.note
    assert "\n" not in weights.note and weights.note.endswith("training the encoder from scratch")
    # Half there is still missing: smp reads config.json as well as the weights.
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x")
    assert encoder_weights("efficientnet-b7").missing == (folder / "config.json",)


def test_cached_weights_are_loaded_offline(hub_cache):
    state = _put_imagenet_weights(hub_cache)
    assert encoder_weights(SMALL_ENCODER).pretrained
    model = build_model(small_config(64))
    assert torch.equal(model.encoder.state_dict()["conv1.weight"], state["conv1.weight"])


def test_segment_round_says_so_and_records_it(seg_home, hub_cache, capsys, engine):
    from db.engine import read_session
    from db.segmentation import list_segmentation_rounds
    from workbench.cli import main

    small = ["segment", "round", "--encoder", SMALL_ENCODER, "--epochs", "1", "--image-size", "64"]
    assert main(small) == 0
    captured = capsys.readouterr()
    (line,) = [ln for ln in captured.err.splitlines() if "ImageNet" in ln]
    expected = _snapshot(hub_cache, SMALL_ENCODER) / "model.safetensors"
    assert line.startswith(f"segment round: no ImageNet weights for {SMALL_ENCODER}: missing ") and str(expected) in line
    assert "without ImageNet weights" in captured.out

    _put_imagenet_weights(hub_cache)
    assert main([*small, "--scratch"]) == 0
    captured = capsys.readouterr()
    assert "ImageNet" not in captured.err and "encoder from ImageNet weights" in captured.out
    with read_session(engine) as session:
        assert [r.encoder_pretrained for r in list_segmentation_rounds(session)] == [False, True]


def test_migration_adds_and_drops_the_column(tmp_path):
    from sqlalchemy import inspect

    from db.engine import make_engine
    from db.migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    columns = lambda: {c["name"] for c in inspect(engine).get_columns("segmentation_rounds")}  # noqa: E731
    assert "encoder_pretrained" in columns()
    downgrade(url, "0002")
    assert "encoder_pretrained" not in columns() and "plateau" in columns()
    engine.dispose()
