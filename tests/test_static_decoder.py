"""The fixed-shape decoding step that CUDA graphs replay: its warm-up writes only the scratch slot, and
decoding through it (warm-up included) equals rudalle's own full forward, token for token, v2 and v3.

On a GPU, `StaticDecoder.prepare()` warms up then captures; on the CPU it runs the same warm-up (the
capture itself records kernels without running them), so these tests cover what a GPU does before replay.
`bench/graph_equal.py` checks graph replay against eager decoding at full Malevich geometry on a GPU.
"""
from __future__ import annotations

import pytest
import torch

from training.config import ModelConfig
from training.dalle.forward import StaticDecoder, embed, layer_masks, logits_slice, prefix_length
from training.dalle.sampler import SamplingParams, sample_codes, sample_from_logits, seed_uniforms
from training.tiny.model import build_tiny_model

TEXT_VOCAB = 90
GREEDY = SamplingParams(top_k=1, top_p=1.0, batch_size=3)
SEEDED = SamplingParams(top_k=16, top_p=0.9, temperature=1.0, batch_size=3)


def _model(version: str):
    mc = ModelConfig(source="tiny", hf_version=version, num_layers=3, hidden_size=32, num_attention_heads=2,
                     text_seq_length=10, image_tokens_per_dim=4, image_vocab_size=64, dropout=0.0)
    return build_tiny_model(mc, TEXT_VOCAB, seed=5).eval()


def _text(n: int = 3) -> torch.Tensor:
    text = torch.randint(4, TEXT_VOCAB, (n, 10), generator=torch.Generator().manual_seed(11))
    text[:, 6:] = 0
    return text


@torch.no_grad()
def _rudalle_full_forward_decode(model, text, seeds, params: SamplingParams) -> torch.Tensor:
    """Every token from rudalle's own `DalleModel.forward` over the whole sequence so far (no cache), as
    `rudalle.pipelines.generate_images(use_cache=False)` runs it, with our filter and seeded uniforms."""
    n_img, total, v = model.image_seq_length, model.total_seq_length, model.vocab_size
    uniforms = seed_uniforms(seeds, n_img)
    mask = torch.tril(torch.ones(len(text), 1, total, total))
    out = text.clone()
    for k in range(n_img):
        logits, _ = model(out, mask, use_cache=False, return_loss=False)
        token = sample_from_logits(logits[:, -1, v:], uniforms[:, k], params.top_k, params.top_p, params.temperature)
        out = torch.cat([out, token[:, None]], dim=1)
    return out[:, model.text_seq_length:]


@torch.no_grad()
def _static_decode(model, text, seeds, params: SamplingParams) -> torch.Tensor:
    """Prefill, prepare (the warm-up a GPU runs before capture), then one static step per token."""
    n_img = model.image_seq_length
    decoder = StaticDecoder(model, len(text), layer_masks(model), torch.device("cpu"), torch.float32)
    h = decoder.prefill(embed(model, text, None))
    decoder.prepare(capture=False)
    uniforms = seed_uniforms(seeds, n_img)
    logits = logits_slice(model, h[:, -1], "image")
    codes = []
    for k in range(n_img):
        token = sample_from_logits(logits, uniforms[:, k], params.top_k, params.top_p, params.temperature)
        codes.append(token)
        if k + 1 < n_img:
            logits = decoder.step(token, k)
    return torch.stack(codes, dim=1)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_warm_up_leaves_every_live_slot_bit_identical(version):
    model = _model(version)
    text = _text()
    decoder = StaticDecoder(model, len(text), layer_masks(model), torch.device("cpu"), torch.float32)
    with torch.no_grad():
        decoder.prefill(embed(model, text, None))
        before = [(k.clone(), v.clone()) for k, v in decoder.cache]
        decoder.prepare(capture=False)
    n, p = decoder.length, prefix_length(model)
    for (k0, v0), (k1, v1) in zip(before, decoder.cache, strict=True):
        assert torch.equal(k0[:, :, :n], k1[:, :, :n]) and torch.equal(v0[:, :, :n], v1[:, :, :n])
        assert k0[:, :, :p].abs().sum() > 0  # the prompt's keys were there to be protected
        assert not torch.equal(k0[:, :, n], k1[:, :, n])  # the warm-up did run, on the scratch slot


@pytest.mark.parametrize("version", ["v2", "v3"])
@pytest.mark.parametrize("params", [GREEDY, SEEDED], ids=["greedy", "seeded"])
def test_static_decoding_with_warm_up_equals_rudalles_full_forward(version, params):
    model = _model(version)
    text, seeds = _text(), [3, 4, 5]
    reference = _rudalle_full_forward_decode(model, text, seeds, params)
    assert torch.equal(_static_decode(model, text, seeds, params), reference)
    # The sampler's own static path (prepare included) gives the same tokens.
    codes, _ = sample_codes(model, text, seeds, params, graphs=True)
    assert torch.equal(codes, reference)
    if params is SEEDED:
        assert len({tuple(row.tolist()) for row in reference}) == len(seeds)  # real sampling, not all greedy
