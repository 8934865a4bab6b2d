"""Caption loss for generated candidates, and the `--rerank caption` order (what `emojich generate` calls).

    captioner = require_captioner(engine, home, bundle.config, f"checkpoint {key}")   # score.py
    order = rerank_by_caption(captioner, prompt, codes=codes)       # the sampler's codes [N, I], or
    order = rerank_by_caption(captioner, prompt, images=images)     # decoded PIL images (re-encoded)

Lower caption loss = the captioner finds the prompt more likely given the image = ranked first. From codes
it scores exactly the sampled tokens (no decode needed, so it can rank before decoding the best K); from
images it scores them as `emojich score` scores stored samples (decoded, then re-encoded by the VAE), which
is what `samples.caption_loss` holds for a stored candidate.
"""
from __future__ import annotations

import torch
from PIL import Image

from training.captioner.load import Captioner


def caption_losses(captioner: Captioner, prompts: str | list[str], *, codes: torch.Tensor | None = None,
                   images: list[Image.Image] | None = None) -> torch.Tensor:
    """Caption loss [N] of each candidate: one prompt for all, or one per candidate."""
    if (codes is None) == (images is None):
        raise ValueError("give exactly one of codes= or images=")
    codes = captioner.codes(images) if images is not None else codes.long()
    texts = [prompts] * len(codes) if isinstance(prompts, str) else list(prompts)
    if len(texts) != len(codes):
        raise ValueError(f"{len(texts)} prompts for {len(codes)} candidates")
    return captioner.losses(codes, captioner.text_ids(texts))


def rerank_by_caption(captioner: Captioner, prompts: str | list[str], *, codes: torch.Tensor | None = None,
                      images: list[Image.Image] | None = None) -> tuple[list[int], list[float]]:
    """(candidate indices, lowest caption loss first; ties keep their order) and the losses by candidate."""
    losses = caption_losses(captioner, prompts, codes=codes, images=images).tolist()
    order = sorted(range(len(losses)), key=lambda i: losses[i])
    return order, losses
