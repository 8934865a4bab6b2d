"""The project's batched sampler: key/value cache, top-k, top-p, temperature, one seed per sample.

Reproducibility: every sample draws its uniforms from its own `torch.Generator` seeded with its seed
(inverse-CDF sampling, one uniform per image token), so checkpoint + prompt + seed gives the same image
whatever else shares its batch. Self-rerank score: the perplexity of the sampled image tokens under
the model (temperature 1, unfiltered), exp(mean NLL) over all image tokens at their aligned positions;
it equals exp(image loss) of `loss.dalle_losses` on the same sequence.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from training.dalle.forward import (
    StaticDecoder,
    embed,
    embed_image_tokens,
    hidden_states,
    layer_masks,
    logits_slice,
    new_cache,
    prefix_length,
)


@dataclass(frozen=True)
class SamplingParams:
    top_k: int = 2048
    top_p: float = 0.995
    temperature: float = 1.0
    batch_size: int = 16


def sample_from_logits(logits: torch.Tensor, uniforms: torch.Tensor, top_k: int, top_p: float,
                       temperature: float) -> torch.Tensor:
    """One token per row: temperature, then top-k, then the smallest nucleus reaching top-p.

    `uniforms` [B] in [0, 1) choose by inverse CDF inside the kept, renormalised distribution.
    """
    logits = logits.float() / temperature
    k = logits.shape[-1] if top_k <= 0 else min(top_k, logits.shape[-1])
    values, index = logits.topk(k, dim=-1)  # sorted, largest first
    probs = F.softmax(values, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    probs = probs * (before < top_p)  # the first token is always kept
    cdf = probs.cumsum(dim=-1)
    target = uniforms.to(cdf.device, cdf.dtype).unsqueeze(-1) * cdf[:, -1:]
    choice = torch.searchsorted(cdf, target, right=True).clamp(max=k - 1)
    return index.gather(-1, choice).squeeze(-1)


def seed_uniforms(seeds: list[int], length: int) -> torch.Tensor:
    """[len(seeds), length] uniforms, each row from its own generator."""
    rows = [torch.rand(length, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return torch.stack(rows)


def _autocast(device: torch.device):
    if device.type == "cuda":
        # no autocast weight cache: CUDA graph capture must not keep casts made outside the graph
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


@torch.no_grad()
def sample_codes(model, text_ids: torch.Tensor, seeds: list[int], params: SamplingParams,
                 progress: bool = False, graphs: bool | None = None,
                 replay: bool | None = None,
                 on_progress: Callable[[float], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Image codes [N, I] and perplexities [N] for text ids [N, T], one seed per row.

    `on_progress(share)` is called after every sampled token position with the share of all tokens done.

    `graphs` (default: on CUDA) decodes with `StaticDecoder`: warmed up on its scratch slot, then (when
    `replay`, default: on CUDA) captured and replayed as a CUDA graph per token; otherwise the same
    static step runs eagerly (tests compare it with a full forward; bench/graph_equal.py compares replay
    with eager on a GPU).
    """
    if len(seeds) != len(text_ids):
        raise ValueError("one seed per prompt row")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    graphs = device.type == "cuda" if graphs is None else graphs
    n_img, p = model.image_seq_length, prefix_length(model)
    masks = layer_masks(model)
    codes, ppl = [], []
    chunks = range(0, len(text_ids), params.batch_size)
    total, done = len(text_ids) * n_img, 0
    bar = tqdm(total=total, desc="sampling", unit="tok", leave=False, disable=not progress, dynamic_ncols=True)
    try:
        for start in chunks:
            ids = text_ids[start:start + params.batch_size].to(device)
            uniforms = seed_uniforms(seeds[start:start + params.batch_size], n_img).to(device)
            b = ids.shape[0]
            with _autocast(device):
                dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
                if graphs:
                    decoder = StaticDecoder(model, b, masks, device, dtype)
                    h = decoder.prefill(embed(model, ids, None))
                    if n_img > 1:
                        decoder.prepare(capture=replay)
                else:
                    cache = new_cache(model, b, p + n_img - 1, device, dtype)
                    h = hidden_states(model, embed(model, ids, None), masks, cache, start=0)
                logits = logits_slice(model, h[:, -1], "image").float()
                out = torch.empty(b, n_img, dtype=torch.long, device=device)
                nll = torch.zeros(b, device=device)
                for k in range(n_img):
                    token = sample_from_logits(logits, uniforms[:, k], params.top_k, params.top_p,
                                               params.temperature)
                    nll -= F.log_softmax(logits, dim=-1).gather(-1, token[:, None]).squeeze(-1)
                    out[:, k] = token
                    if k + 1 < n_img:
                        if graphs:
                            logits = decoder.step(token, k)
                        else:
                            x = embed_image_tokens(model, token[:, None], k)
                            h = hidden_states(model, x, masks, cache, start=p + k)
                            logits = logits_slice(model, h[:, -1], "image").float()
                    bar.update(b)
                    done += b
                    if on_progress is not None:
                        on_progress(done / total)
            codes.append(out.cpu())
            ppl.append(torch.exp(nll / n_img).cpu())
    finally:
        bar.close()
        model.train(was_training)
    return torch.cat(codes), torch.cat(ppl)


@torch.no_grad()
def decode_images(vae, codes: torch.Tensor, batch_size: int = 16) -> list[Image.Image]:
    device = next(vae.parameters()).device
    images = []
    for start in range(0, len(codes), batch_size):
        pixels = vae.decode(codes[start:start + batch_size].to(device)).float().clamp(0, 1)
        array = (pixels.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).cpu().numpy()
        images += [Image.fromarray(a, "RGB") for a in array]
    return images
