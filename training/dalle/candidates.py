"""Self-reranking: sample N candidates for one prompt, rank them by perplexity, decode only the best K.

The Emojich report advises many attempts per caption (about 512) and keeping the best. Sampling the
image tokens is cheap next to decoding them with the VAE (on CPU most of the time goes there), so
only the K best are decoded.

The rank score is the project's sampler's perplexity (training/dalle/sampler.py): exp(mean NLL) of
the sampled image tokens under the model's own distribution (temperature 1, no top-k/top-p
filtering), each token scored at the position it was sampled from. It equals exp(image loss) of
the training loss on the same sequence, so it does not depend on the sampling settings and is
comparable across them. rudalle's `generate_images` perplexity is not used: for v2 models it scores
every token one position off (see RUDALLE-NOTES), which makes its sort meaningless there.

`rank_by` swaps the order for another score of the sampled codes, lower first: `emojich generate --rerank
caption` passes the captioner's caption loss (training/captioner/rerank.py), which also needs no decoding.

`generate_candidates` is the one function `emojich generate` and the bot's workers both call.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from training.dalle.sampler import SamplingParams, decode_images, sample_codes


@dataclass(frozen=True)
class Candidate:
    seed: int
    perplexity: float
    rank: int  # 0 = the best of the batch (lowest perplexity, or lowest `rank_by` score)
    image: Image.Image  # RGB, the VAE's size
    caption_loss: float | None = None  # when ranked by caption loss


@dataclass(frozen=True)
class CandidateBatch:
    prompt: str
    params: SamplingParams
    sampled: int  # N
    candidates: list[Candidate]  # the K best, best first
    ranked_by: str = "perplexity"  # or "caption"

    @property
    def perplexity_range(self) -> tuple[float, float]:
        values = [c.perplexity for c in self.candidates]
        return min(values), max(values)


def rank_by_perplexity(perplexities: Sequence[float], seeds: Sequence[int]) -> list[int]:
    """Indices, lowest perplexity first; equal scores keep seed order; NaN (never expected) ranks last."""
    def key(i: int) -> tuple[float, int]:
        value = float(perplexities[i])
        return (math.inf if math.isnan(value) else value, int(seeds[i]))

    return sorted(range(len(perplexities)), key=key)


def generate_candidates(
    bundle,
    prompt: str,
    seeds: Sequence[int],
    params: SamplingParams,
    keep: int,
    *,
    vae=None,
    progress: bool = False,
    on_progress: Callable[[float], None] | None = None,
    rank_by: Callable[[torch.Tensor], Sequence[float]] | None = None,
) -> CandidateBatch:
    """Sample one candidate per seed for `prompt`, keep the `keep` lowest-perplexity ones (or the lowest by
    `rank_by(codes)`, a caption loss per candidate) and decode them.

    `on_progress(share)` reports sampling progress (0..1); decoding follows. A prompt longer than the
    model's text length warns with `PromptTruncated` (callers decide how to show it).
    """
    from training.dalle.prompts import encode_prompts

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("at least one seed")
    if not 1 <= keep <= len(seeds):
        raise ValueError(f"keep must be between 1 and the number of candidates ({len(seeds)}), got {keep}")
    ids = encode_prompts(bundle.tokenizer, [prompt], bundle.text_seq_length).repeat(len(seeds), 1)
    codes, ppl = sample_codes(bundle.model, ids, seeds, params, progress=progress, on_progress=on_progress)
    values = ppl.tolist()
    losses = None if rank_by is None else [float(x) for x in rank_by(codes)]
    if losses is not None and len(losses) != len(seeds):
        raise ValueError(f"rank_by gave {len(losses)} scores for {len(seeds)} candidates")
    best = rank_by_perplexity(values if losses is None else losses, seeds)[:keep]  # lowest first, ties by seed
    images = decode_images(vae or bundle.vae, codes[best])
    candidates = [Candidate(seeds[i], values[i], rank, image, None if losses is None else losses[i])
                  for rank, (i, image) in enumerate(zip(best, images, strict=True))]
    return CandidateBatch(prompt, params, len(seeds), candidates, "perplexity" if losses is None else "caption")
