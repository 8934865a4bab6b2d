"""Generation speed: seconds for the 64-prompt evaluation set (sampling + VAE decode), images/s.

    .venv/bin/python bench/bench_generate.py --size tiny      # CPU, configs/tiny.toml geometry
    python bench/bench_generate.py --size full                # GPU, Malevich + Sber VAE geometry, random init

Random-init weights: speed does not depend on them. top-k 2048, top-p 0.995, temperature 1 (the report's);
text ids are random (no tokenizer needed), one seed per prompt as in the training loop.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dalle_models import build_model, build_vae, synchronize  # noqa: E402
from training.dalle.sampler import SamplingParams, decode_images, sample_codes  # noqa: E402

PROMPTS = 64


@torch.no_grad()
def step_ms(model, text, device, steps: int = 32) -> None:
    """Milliseconds per cached decoding step (the sampler's inner loop without the sampling), batch 16 and 64."""
    from training.dalle.forward import (
        embed,
        embed_image_tokens,
        hidden_states,
        layer_masks,
        logits_slice,
        new_cache,
        prefix_length,
    )

    masks, p = layer_masks(model), prefix_length(model)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    for batch in (16, 64):
        ids = text[:batch].to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            cache = new_cache(model, batch, p + model.image_seq_length - 1, device, dtype)
            h = hidden_states(model, embed(model, ids, None), masks, cache, start=0)
            token = logits_slice(model, h[:, -1], "image").argmax(-1)
            synchronize(device)
            started = time.perf_counter()
            for k in range(steps):
                h = hidden_states(model, embed_image_tokens(model, token[:, None], k), masks, cache, start=p + k)
                token = logits_slice(model, h[:, -1], "image").argmax(-1)
            synchronize(device)
        print(json.dumps({"batch": batch, "decode_ms_per_step": round((time.perf_counter() - started) / steps * 1e3, 2)}),
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--batch", type=int, nargs="+", default=None, help="sampler batch sizes (default 16, 64)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    model, _ = build_model(args.size, device)
    model.eval()
    if device.type == "cuda":
        model.to(torch.bfloat16)  # inference: bf16 weights
    vae = build_vae(args.size, device)
    top_k = 2048 if args.size == "full" else 64
    g = torch.Generator().manual_seed(0)
    text = torch.randint(4, model.vocab_size - model.text_seq_length, (PROMPTS, model.text_seq_length), generator=g)
    text[:, 10:] = 0
    seeds = [42] * PROMPTS
    step_ms(model, text, device)
    started = time.perf_counter()
    sample_codes(model, text[:2], seeds[:2], SamplingParams(top_k, 0.995, 1.0, 2))  # warm-up
    synchronize(device)
    print(json.dumps({"warm_up_2_images_s": round(time.perf_counter() - started, 2)}), flush=True)
    for batch in args.batch or [16, 64]:
        synchronize(device)
        started = time.perf_counter()
        codes, _ = sample_codes(model, text, seeds, SamplingParams(top_k, 0.995, 1.0, batch))
        synchronize(device)
        sampled = time.perf_counter() - started
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            images = decode_images(vae, codes, batch_size=16)
        synchronize(device)
        total = time.perf_counter() - started
        print(json.dumps({
            "size": args.size, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "threads": torch.get_num_threads(), "batch": batch, "images": len(images),
            "image_px": images[0].size[0], "sampling_s": round(sampled, 2), "eval_64_s": round(total, 2),
            "images_per_s": round(len(images) / total, 2),
        }), flush=True)


if __name__ == "__main__":
    main()
