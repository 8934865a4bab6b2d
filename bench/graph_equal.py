"""CUDA-graph decoding against eager decoding, token for token: "tokens equal: N/N" (N prompts).

    python bench/graph_equal.py --size full                     # GPU: Malevich geometry, random init, v2 and v3
    .venv/bin/python bench/graph_equal.py --size tiny --device cpu   # the same script at tiny size on CPU

The 64 evaluation-sized prompts (random text ids, seed 42 each, the report's top-k 2048 / top-p 0.995 at full
size) are decoded twice by the sampler's static step: once replayed as a CUDA graph (warm-up and capture
after the prompt's prefill, as the sampler does), once run eagerly without any graph. A prompt counts as
equal when all its image tokens agree. A warm-up or capture that wrote into the prompt's cache slots shows
up here as near 0/N. The script also checks, at the same size, that warm-up (+ capture) leaves every live
cache slot bit-identical.

The eager reference never warms up: it is the static step run once per token, nothing else touching the
cache. On a CPU no graph can be captured; the sampler then runs its warm-up without capture, so the same
comparison checks the script and the warm-up at small size. Exit status 1 if any prompt differs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dalle_models import build_model, synchronize  # noqa: E402
from training.dalle.forward import StaticDecoder, embed, layer_masks, logits_slice  # noqa: E402
from training.dalle.sampler import (  # noqa: E402
    SamplingParams,
    _autocast,
    sample_codes,
    sample_from_logits,
    seed_uniforms,
)

PROMPTS = 64


def random_text(model, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    text = torch.randint(4, model.vocab_size - model.text_seq_length, (n, model.text_seq_length), generator=g)
    text[:, 10:] = 0  # short captions, padded like real ones
    return text


@torch.no_grad()
def prepare_keeps_live_slots(model, text: torch.Tensor, device: torch.device, capture: bool) -> bool:
    """Prefill, then warm up (+ capture): are all live key/value slots bit-identical afterwards?"""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    with _autocast(device):
        decoder = StaticDecoder(model, len(text), layer_masks(model), device, dtype)
        decoder.prefill(embed(model, text.to(device), None))
        before = [(k.clone(), v.clone()) for k, v in decoder.live_cache()]
        decoder.prepare(capture=capture)
        synchronize(device)
    return all(torch.equal(k0, k1) and torch.equal(v0, v1)
               for (k0, v0), (k1, v1) in zip(before, decoder.live_cache(), strict=True))


@torch.no_grad()
def eager_codes(model, text: torch.Tensor, seeds: list[int], params: SamplingParams, device) -> torch.Tensor:
    """The reference: prefill, then the static step run eagerly once per token (no warm-up, no graph)."""
    n_img, masks = model.image_seq_length, layer_masks(model)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    out = []
    for start in range(0, len(text), params.batch_size):
        ids = text[start:start + params.batch_size].to(device)
        uniforms = seed_uniforms(seeds[start:start + params.batch_size], n_img).to(device)
        with _autocast(device):
            decoder = StaticDecoder(model, len(ids), masks, device, dtype)
            h = decoder.prefill(embed(model, ids, None))
            logits = logits_slice(model, h[:, -1], "image").float()
            codes = torch.empty(len(ids), n_img, dtype=torch.long, device=device)
            for k in range(n_img):
                codes[:, k] = sample_from_logits(logits, uniforms[:, k], params.top_k, params.top_p,
                                                 params.temperature)
                if k + 1 < n_img:
                    logits = decoder.step(codes[:, k], k)
        out.append(codes.cpu())
    return torch.cat(out)


def compare(model, device: torch.device, prompts: int, batch: int, top_k: int, top_p: float) -> dict:
    text = random_text(model, prompts)
    seeds = [42] * prompts  # the evaluation's: one seed for every prompt
    params = SamplingParams(top_k, top_p, 1.0, batch)
    cuda = device.type == "cuda"
    synchronize(device)
    started = time.perf_counter()
    test, _ = sample_codes(model, text, seeds, params, graphs=True, replay=cuda)  # the sampler as it ships
    synchronize(device)
    test_s = time.perf_counter() - started
    started = time.perf_counter()
    reference = eager_codes(model, text, seeds, params, device)
    synchronize(device)
    reference_s = time.perf_counter() - started
    same = (test == reference).all(dim=1)
    differs = (test != reference).int()
    first = [int(row.argmax()) for row, ok in zip(differs, same.tolist(), strict=True) if not ok]
    return {
        "hf_version": model.hf_version,
        "compared": ("sampler with graph replay" if cuda else "sampler with warm-up, no capture (CPU)")
        + " vs eager static step without warm-up",
        "prompts": prompts, "image_tokens": model.image_seq_length, "batch": batch,
        "prompts_equal": int(same.sum()), "tokens_equal": int((test == reference).sum()),
        "tokens_total": test.numel(), "first_difference_at": first[:8],
        "live_slots_unchanged_by_prepare": prepare_keeps_live_slots(model, text[:batch], device, capture=cuda),
        "test_s": round(test_s, 2), "reference_s": round(reference_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--versions", nargs="+", choices=["v2", "v3"], default=["v2", "v3"])
    parser.add_argument("--prompts", type=int, default=PROMPTS)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    top_k, top_p = (2048, 0.995) if args.size == "full" else (64, 0.95)
    failed = False
    for version in args.versions:
        model, _ = build_model(args.size, device, hf_version=version)
        model.eval()
        if device.type == "cuda":
            model.to(torch.bfloat16)  # inference: bf16 weights, as the benchmarks and the sampler run them
        result = compare(model, device, args.prompts, args.batch, top_k, top_p)
        print(json.dumps({"size": args.size, "device": torch.cuda.get_device_name(device) if device.type == "cuda"
                          else "cpu", **result}), flush=True)
        print(f"{version}: tokens equal: {result['prompts_equal']}/{result['prompts']}", flush=True)
        failed |= result["prompts_equal"] != result["prompts"] or not result["live_slots_unchanged_by_prepare"]
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
