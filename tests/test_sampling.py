"""The sampler: seeded reproducibility, filtering, perplexity aligned with the loss, prompt checks."""
from __future__ import annotations

import warnings

import pytest
import torch

from training.config import ModelConfig
from training.dalle.loss import dalle_losses
from training.dalle.prompts import BadPrompt, PromptTruncated, check_prompt, encode_prompt
from training.dalle.sampler import SamplingParams, sample_codes, sample_from_logits
from training.tiny.model import build_tiny_model


def _model(version: str):
    mc = ModelConfig(source="tiny", hf_version=version, num_layers=2, hidden_size=32, num_attention_heads=2,
                     text_seq_length=10, image_tokens_per_dim=4, image_vocab_size=64, dropout=0.1)
    return build_tiny_model(mc, 90, seed=3).eval()


def _text(n, seed=0):
    text = torch.randint(4, 90, (n, 10), generator=torch.Generator().manual_seed(seed))
    text[:, 7:] = 0
    return text


def test_same_seed_same_codes_whatever_the_batch():
    model = _model("v2")
    text = _text(4)
    params = SamplingParams(top_k=32, top_p=0.95, temperature=1.0, batch_size=4)
    a, ppl_a = sample_codes(model, text, [42, 43, 44, 45], params)
    b, ppl_b = sample_codes(model, text, [42, 43, 44, 45], params)
    assert torch.equal(a, b) and torch.equal(ppl_a, ppl_b)
    # The same (prompt, seed) in another batch, next to other prompts and seeds.
    mixed = torch.stack([text[2], _text(1, seed=9)[0], text[0]])
    c, _ = sample_codes(model, mixed, [44, 7, 42], params)
    assert torch.equal(c[0], a[2]) and torch.equal(c[2], a[0])
    d, _ = sample_codes(model, text, [1, 2, 3, 4], params)
    assert not torch.equal(a, d)


def test_same_seed_same_image(tiny_models_dir):
    from training.dalle.sampler import decode_images
    from training.tiny.vae import load_vae

    vae = load_vae(tiny_models_dir / "vae.pt")
    model = _model("v2")
    params = SamplingParams(top_k=0, top_p=1.0, batch_size=2)
    first = decode_images(vae, sample_codes(model, _text(2), [5, 6], params)[0])
    again = decode_images(vae, sample_codes(model, _text(2), [5, 6], params)[0])
    assert [im.tobytes() for im in first] == [im.tobytes() for im in again]
    assert first[0].size == (16, 16) and first[0].mode == "RGB"


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_self_rerank_perplexity_is_exp_of_the_aligned_image_loss(version):
    model = _model(version)
    text = _text(3)
    codes, ppl = sample_codes(model, text, [1, 2, 3], SamplingParams(top_k=16, top_p=0.9, batch_size=2))
    with torch.no_grad():
        losses = dalle_losses(model, text, codes, 1e3, reduction="none")
    assert torch.allclose(ppl, torch.exp(losses.image), rtol=1e-4)


def test_cached_sampling_matches_a_full_forward():
    from training.dalle.forward import full_logits

    model = _model("v2")
    text = _text(2)
    codes, _ = sample_codes(model, text, [8, 9], SamplingParams(top_k=1, top_p=1.0, batch_size=2))
    with torch.no_grad():
        logits = full_logits(model, torch.cat([text, codes], 1))
    p = model.text_seq_length + 1  # v2: BOS + text
    greedy = logits[:, p - 1:p - 1 + model.image_seq_length, model.vocab_size:].argmax(-1)
    assert torch.equal(greedy, codes)  # top-k 1 is greedy, step by step, from the cache


def test_filtering_top_k_top_p_temperature():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    for u in (0.0, 0.5, 0.999):
        assert sample_from_logits(logits, torch.tensor([u]), 1, 1.0, 1.0).item() == 1
        assert sample_from_logits(logits, torch.tensor([u]), 0, 0.01, 1.0).item() == 1
        assert sample_from_logits(logits, torch.tensor([u]), 2, 1.0, 1.0).item() in (1, 3)
    # Inverse CDF over the renormalised top-2: p(1) = e^3 / (e^3 + e^2).
    p1 = torch.softmax(torch.tensor([3.0, 2.0]), 0)[0].item()
    assert sample_from_logits(logits, torch.tensor([p1 - 1e-4]), 2, 1.0, 1.0).item() == 1
    assert sample_from_logits(logits, torch.tensor([p1 + 1e-4]), 2, 1.0, 1.0).item() == 3
    # A very low temperature is greedy.
    assert sample_from_logits(logits, torch.tensor([0.99]), 0, 1.0, 1e-3).item() == 1


@pytest.mark.parametrize("bad", ["", "   \t\n", "кот\x00"])
def test_bad_prompts_are_refused(bad):
    with pytest.raises(BadPrompt):
        check_prompt(bad)


def test_prompts_normalise_truncate_and_accept_latin(tiny_models_dir):
    from training.tiny.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tiny_models_dir / "bpe.model")
    assert check_prompt("  Ёжик  В ТУМАНЕ ") == "ёжик  в тумане"  # rudalle's lower().strip(), nothing more
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        latin = encode_prompt(tokenizer, "cat", 12)
    assert latin.shape == (12,) and latin[0] == 2
    with pytest.warns(PromptTruncated, match="truncated"):
        ids = encode_prompt(tokenizer, "очень длинный текст " * 10, 12)
    assert ids.shape == (12,) and (ids != 0).all()


def test_static_decoder_step_matches_the_dynamic_cache():
    """The fixed-shape step (what CUDA graphs replay on a GPU) samples the same codes as the dynamic cache."""
    for version in ("v2", "v3"):
        model = _model(version)
        text = _text(3)
        params = SamplingParams(top_k=16, top_p=0.9, batch_size=3)
        dynamic, ppl_d = sample_codes(model, text, [4, 5, 6], params, graphs=False)
        static, ppl_s = sample_codes(model, text, [4, 5, 6], params, graphs=True)
        assert torch.equal(dynamic, static)
        assert torch.allclose(ppl_d, ppl_s, rtol=1e-5)
