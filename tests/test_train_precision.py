"""fp16 trains with loss scaling (torch.amp.GradScaler) and the 8-bit optimizer: clipping sees the unscaled
gradients, a step with inf gradients is skipped and the scale lowered; bf16 and fp32 need no scaling."""
from __future__ import annotations

import pytest
import torch

from training.config import ModelConfig
from training.dalle.loss import dalle_losses
from training.dalle.optim import make_scaler, optimizer_step
from training.tiny.model import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _setup():
    import bitsandbytes as bnb

    mc = ModelConfig(source="tiny", hf_version="v2", num_layers=2, hidden_size=32, num_attention_heads=2,
                     text_seq_length=10, image_tokens_per_dim=4, image_vocab_size=64, dropout=0.0)
    model = build_tiny_model(mc, 90, seed=2).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = bnb.optim.AdamW8bit(params, lr=1e-3)
    g = torch.Generator().manual_seed(0)
    text = torch.randint(4, 90, (4, 10), generator=g)
    image = torch.randint(0, 64, (4, model.image_seq_length), generator=g)
    return model, params, optimizer, text, image


def _weights(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_scaler_only_for_fp16():
    cpu = torch.device("cpu")
    assert make_scaler("fp16", cpu).is_enabled()
    assert not make_scaler("bf16", cpu).is_enabled() and not make_scaler("fp32", cpu).is_enabled()


def test_fp16_step_clips_after_unscale_and_matches_the_unscaled_step():
    clip = 0.05  # small enough that clipping acts
    scaled = _setup()
    plain = _setup()
    norms, weights = [], []
    for (model, params, optimizer, text, image), precision in ((scaled, "fp16"), (plain, "fp32")):
        scaler = make_scaler(precision, torch.device("cpu"))
        loss = dalle_losses(model, text, image, 1e3).loss
        norm, stepped = optimizer_step(loss, params, optimizer, scaler, clip)
        assert stepped
        norms.append(float(norm))
        weights.append(_weights(model))
    # The norm clipping saw is the true one (×65536 had it been taken before unscaling), so both steps agree.
    assert norms[0] == pytest.approx(norms[1], rel=1e-4) and norms[0] > clip
    for name, value in weights[1].items():
        assert torch.allclose(weights[0][name], value, atol=1e-6), name
    assert any(not torch.equal(weights[0][n], v) for n, v in _weights(_setup()[0]).items())  # it moved


def test_fp16_step_with_inf_gradients_is_skipped_and_the_scale_lowered():
    model, params, optimizer, text, image = _setup()
    scaler = make_scaler("fp16", torch.device("cpu"))
    before, scale = _weights(model), scaler.get_scale()
    loss = dalle_losses(model, text, image, 1e3).loss
    params[0].register_hook(lambda grad: grad * float("inf"))  # one overflowing gradient
    norm, stepped = optimizer_step(loss, params, optimizer, scaler, 1.0)
    assert not stepped and not torch.isfinite(norm)
    assert scaler.get_scale() == scale / 2
    for name, value in _weights(model).items():
        assert torch.equal(value, before[name]), name  # nothing written, no NaN
    assert not optimizer.state  # the 8-bit optimizer never stepped


def test_fp32_step_with_a_non_finite_gradient_is_skipped_too():
    model, params, optimizer, text, image = _setup()
    before = _weights(model)
    params[0].register_hook(lambda grad: grad * float("nan"))
    loss = dalle_losses(model, text, image, 1e3).loss
    _, stepped = optimizer_step(loss, params, optimizer, make_scaler("fp32", torch.device("cpu")), 1.0)
    assert not stepped
    assert all(torch.equal(v, before[n]) for n, v in _weights(model).items())


def test_fp16_run_records_the_scale_and_saves_it_in_the_checkpoint(engine, train_home, tiny_train_config):
    from sqlalchemy import select

    from db.engine import read_session
    from db.home import Home
    from db.models import Checkpoint
    from db.runs import list_metrics
    from training.dalle.checkpoint import read_checkpoint
    from training.dalle.train import train

    config = tiny_train_config(train={"precision": "fp16", "epochs": 1}, sampling={"every": 100, "at_start": False})
    info = train(config, train_home, engine, name="fp16", progress=False)
    with read_session(engine) as s:
        names = {m.name for m in list_metrics(s, info.run_id)}
        path = s.scalar(select(Checkpoint.path).where(Checkpoint.run_id == info.run_id))
    assert {"loss_scale", "skipped_steps", "loss"} <= names
    assert read_checkpoint(Home.resolve(train_home).from_stored(path))["scaler"]["scale"] > 0
