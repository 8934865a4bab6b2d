"""Model side: forward equals rudalle's, loss weighting is 1e3, freezing holds, missing weights are named."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.config import ModelConfig, load_config
from training.dalle.bundle import MissingWeights
from training.dalle.forward import full_logits
from training.dalle.freeze import freeze, is_frozen
from training.dalle.load import load_pretrained
from training.dalle.loss import dalle_losses
from training.tiny.model import build_tiny_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TEXT_VOCAB = 90


def _model(version: str, dropout: float = 0.0):
    mc = ModelConfig(source="tiny", hf_version=version, num_layers=2, hidden_size=32, num_attention_heads=2,
                     text_seq_length=10, image_tokens_per_dim=4, image_vocab_size=64, dropout=dropout)
    return build_tiny_model(mc, TEXT_VOCAB, seed=1)


def _batch(model, n=3, image_high=64):
    g = torch.Generator().manual_seed(0)
    text = torch.randint(4, TEXT_VOCAB, (n, model.text_seq_length), generator=g)
    text[:, 6:] = 0  # padding, replaced by positional pad tokens
    image = torch.randint(0, image_high, (n, model.image_seq_length), generator=g)
    return text, image


def _rudalle(model, text, image, weight):
    total = model.total_seq_length
    mask = torch.tril(torch.ones(len(text), 1, total, total))
    model.loss_img_weight = weight
    with torch.no_grad():
        logits, _ = model(torch.cat([text, image], 1), mask)
        loss, parts = model(torch.cat([text, image], 1), mask, return_loss=True)
    return logits, loss, parts


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_forward_matches_rudalle(version):
    model = _model(version).eval()
    text, image = _batch(model)
    logits, _, _ = _rudalle(model, text, image, 7)
    with torch.no_grad():
        ours = full_logits(model, torch.cat([text, image], 1))
    assert torch.allclose(ours, logits, atol=1e-5)


def test_loss_weight_is_1e3_and_matches_rudalle_v2():
    model = _model("v2").eval()
    text, image = _batch(model)
    with torch.no_grad():
        ours = dalle_losses(model, text, image, 1e3)
    assert ours.loss.item() == pytest.approx((ours.text.item() + 1e3 * ours.image.item()) / 1001, rel=1e-6)
    _, loss, parts = _rudalle(model, text, image, 1e3)
    # v2 is aligned: rudalle's loss and ours are the same numbers.
    assert ours.text.item() == pytest.approx(parts["text"].item(), rel=1e-5)
    assert ours.image.item() == pytest.approx(parts["image"].item(), rel=1e-5)
    assert ours.loss.item() == pytest.approx(loss.item(), rel=1e-5)


def test_v3_loss_scores_the_first_image_token_against_the_image_vocabulary():
    model = _model("v3").eval()
    # rudalle v3 reads image token 0 as a text label: keep codes inside the text vocabulary so it can run.
    text, image = _batch(model)  # 64 image codes < 100 text ids
    with torch.no_grad():
        ours = dalle_losses(model, text, image, 1e3, reduction="none")
        logits = full_logits(model, torch.cat([text, image], 1))
    t, v = model.text_seq_length, model.vocab_size
    # Ours: token k predicted at position t - 1 + k from the image logits (as the sampler draws it).
    image_logits = logits[:, t - 1:t - 1 + model.image_seq_length, v:]
    expected = torch.nn.functional.cross_entropy(image_logits.transpose(1, 2), image, reduction="none").mean(1)
    assert torch.allclose(ours.image, expected, atol=1e-5)
    # rudalle's v3 image loss covers only tokens 1.. (token 0 goes to its text loss, in the text vocabulary).
    _, _, parts = _rudalle(model, text, image, 1e3)
    rest = torch.nn.functional.cross_entropy(image_logits[:, 1:].transpose(1, 2), image[:, 1:])
    assert parts["image"].item() == pytest.approx(rest.item(), rel=1e-5)


def test_freezing_attention_and_mlp_holds_through_a_training_step():
    model = _model("v2", dropout=0.1).train()
    report = freeze(model, ["attention", "mlp"])
    names = dict(model.named_parameters())
    frozen = [n for n in names if is_frozen(n, ["attention", "mlp"])]
    assert frozen and all(".attention." in n or ".mlp." in n for n in frozen)
    assert all(not names[n].requires_grad for n in frozen)
    trainable = [n for n, p in names.items() if p.requires_grad]
    for must in ("text_embeddings.weight", "image_embeddings.weight", "to_logits.1.weight",
                 "transformer.final_layernorm.weight", "transformer.layers.0.input_layernorm.weight",
                 "transformer.layers.1.before_second_addition_layernorm.bias"):
        assert must in trainable
    assert report.trainable == sum(names[n].numel() for n in trainable)
    before = {n: p.detach().clone() for n, p in names.items()}
    import bitsandbytes as bnb

    optimizer = bnb.optim.AdamW8bit([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    text, image = _batch(model)
    for _ in range(2):
        optimizer.zero_grad()
        dalle_losses(model, text, image, 1e3).loss.backward()
        optimizer.step()
    for n in frozen:
        assert torch.equal(names[n], before[n]), n
    for n in ("text_embeddings.weight", "to_logits.1.weight", "transformer.layers.0.input_layernorm.weight"):
        assert not torch.equal(names[n], before[n]), n


def test_missing_pretrained_weights_name_every_file(tmp_path):
    config = load_config(CONFIGS / "emojich.toml", [f"model.cache_dir=\"{tmp_path}\""])
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "bpe.model").write_bytes(b"x")
    with pytest.raises(MissingWeights) as err:
        load_pretrained(config, tmp_path, torch.device("cpu"))
    message = str(err.value)
    assert str(tmp_path / "Malevich_v2" / "pytorch_model_v2.bin") in message
    assert str(tmp_path / "vae" / "vqgan.gumbelf8-sber.model.ckpt") in message
    assert "bpe.model" not in message
    assert "\n" not in message


def test_relative_cache_dir_is_under_home(tmp_path):
    config = load_config(CONFIGS / "emojich.toml")
    with pytest.raises(MissingWeights, match=str(tmp_path / "models" / "rudalle" / "Malevich_v2")):
        load_pretrained(config, tmp_path, torch.device("cpu"))


def test_the_recipe_fine_tunes_malevich_v2_and_v3_stays_selectable(tmp_path):
    """The report fine-tuned the November 2021 Malevich (v2), the release rudalle's own Emojich entry is."""
    from rudalle.dalle import MODELS

    from db.errors import EmojichError
    from training.dalle.load import pretrained_files

    recipe = load_config(CONFIGS / "emojich.toml")
    assert (recipe.model.name, recipe.model.hf_version) == ("Malevich_v2", "v2")
    assert MODELS["Emojich"]["hf_version"] == "v2"
    assert MODELS[recipe.model.name]["model_params"] == MODELS["Emojich"]["model_params"]
    assert pretrained_files(recipe.model, tmp_path)[0] == tmp_path / "models/rudalle/Malevich_v2/pytorch_model_v2.bin"
    v3 = load_config(CONFIGS / "emojich.toml", ["model.name=Malevich", "model.hf_version=v3"])
    assert pretrained_files(v3.model, tmp_path)[0] == tmp_path / "models/rudalle/Malevich/pytorch_model_v3.bin"
    # A layout that is not the release's fails in one line before any file is looked for.
    mixed = load_config(CONFIGS / "emojich.toml", ["model.name=Malevich"])
    with pytest.raises(EmojichError, match=r"^model.hf_version v2 does not match the Malevich weights \(v3\); "
                                           r"set model.hf_version=v3$"):
        pretrained_files(mixed.model, tmp_path)


def test_cli_train_without_weights_is_one_line_and_leaves_no_run(home):
    from sqlalchemy import func, select

    from db.engine import make_engine, read_session
    from db.models import Run
    from workbench.cli import main

    assert main(["db", "upgrade"]) == 0  # the home fixture's DB is already migrated; upgrade is idempotent
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("emojich"))
    result = subprocess.run([exe, "train", "--config", str(CONFIGS / "emojich.toml"), "--no-progress"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "pytorch_model_v2.bin" in result.stderr and "vqgan.gumbelf8-sber.model.ckpt" in result.stderr
    import os

    engine = make_engine(os.environ["EMOJICH_DB"])
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0
    engine.dispose()
