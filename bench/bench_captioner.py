"""Caption Loss cost: the captioner's training step and scoring throughput (image tokens, then text).

    .venv/bin/python bench/bench_captioner.py --size tiny [--threads 1]   # CPU, configs/captioner-tiny.toml
    python bench/bench_captioner.py --size full                           # GPU, Malevich geometry, random init

Training step: the captioner objective (mean CE over caption tokens given the image), AdamW (tiny) or
AdamW8bit with the feed-forward frozen (full, configs/captioner.toml), clip 1.0, bf16 autocast on CUDA.
Scoring: `caption_losses` without gradients at the scoring batch, in pairs/s (the VAE encode is not timed).
`cpu_s_per_step` (process CPU time) is what one idle core would take with `--threads 1`: on a shared machine
the wall time mostly measures the other jobs.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dalle_models import build_model, synchronize  # noqa: E402
from training.captioner.model import caption_losses, reversed_masks, training_loss  # noqa: E402
from training.dalle.freeze import cast_frozen, freeze  # noqa: E402


def tiny_model():
    from training.captioner.config import load_captioner_config
    from training.tiny.model import build_tiny_model

    mc = load_captioner_config().model
    return build_tiny_model(mc, 600, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--batch", type=int, default=None, help="training batch; default 8 (full), 64 (tiny)")
    parser.add_argument("--score-batch", type=int, default=None, help="default 32 (full), 128 (tiny)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    full = args.size == "full"
    if full and device.type != "cuda":
        raise SystemExit("--size full needs a CUDA device")
    batch = args.batch or (8 if full else 64)
    score_batch = args.score_batch or (32 if full else 128)

    if full:
        model, _ = build_model("full", device)
    else:
        model = tiny_model().to(device)
        model.device = device
    report = freeze(model, ["mlp"] if full else [])
    if device.type == "cuda":
        cast_frozen(model, torch.bfloat16)
    params = [p for p in model.parameters() if p.requires_grad]
    if full:
        import bitsandbytes as bnb

        optimizer = bnb.optim.AdamW8bit(params, lr=1e-5)
    else:
        optimizer = torch.optim.AdamW(params, lr=1e-3)
    masks = reversed_masks(model)
    g = torch.Generator().manual_seed(0)

    def pairs(n):
        codes = torch.randint(0, model.image_embeddings.num_embeddings, (n, model.image_seq_length), generator=g)
        ids = torch.randint(4, model.vocab_size - model.text_seq_length, (n, model.text_seq_length), generator=g)
        ids[:, 0] = 2
        ids[:, model.text_seq_length // 2:] = 0  # half-length captions, padded
        return codes.to(device), ids.to(device)

    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    codes, ids = pairs(batch)
    model.train()

    def step():
        with autocast:
            loss = training_loss(model, codes, ids, masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        step()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        loss = step()
    synchronize(device)
    train_s = (time.perf_counter() - started) / args.steps
    train_cpu_s = (time.process_time() - cpu_started) / args.steps  # ≈ wall time on an idle core (1 thread)
    peak_train = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None

    model.eval()
    score_codes, score_ids = pairs(score_batch)
    with torch.no_grad(), autocast:
        caption_losses(model, score_codes, score_ids, masks)
        synchronize(device)
        started = time.perf_counter()
        rounds = max(3, args.steps // 4)
        for _ in range(rounds):
            caption_losses(model, score_codes, score_ids, masks)
        synchronize(device)
    score_s = (time.perf_counter() - started) / rounds

    result = {
        "size": args.size, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(), "params_M": round(report.total / 1e6, 2),
        "trainable_M": round(report.trainable / 1e6, 2), "batch": batch, "s_per_step": round(train_s, 4),
        "cpu_s_per_step": round(train_cpu_s, 4),
        "train_pairs_per_s": round(batch / train_s, 1), "loss": round(float(loss), 3),
        "score_batch": score_batch, "score_pairs_per_s": round(score_batch / score_s, 1),
        "seconds_for_300_steps": round(300 * train_s, 1),
    }
    if device.type == "cuda":
        result["peak_gpu_memory_train_GB"] = round(peak_train, 2)
    else:
        result["peak_rss_GB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
