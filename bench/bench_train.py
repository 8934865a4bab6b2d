"""Training throughput: samples/s, tokens/s, peak memory (and MFU on CUDA) for the recipe's step.

    .venv/bin/python bench/bench_train.py --size tiny            # CPU, configs/tiny.toml geometry
    python bench/bench_train.py --size full --batch 2            # GPU, Malevich geometry, random init
    python -m torch.distributed.run --standalone --nproc-per-node 1 bench/bench_train.py --size full --batch 2 --ddp
                                                                 # the same step through DDP (world size 1)

The measured step is the training loop's: freeze attention+mlp (full) / nothing (tiny), weighted loss
1e3, AdamW8bit (torch fused AdamW where bitsandbytes cannot run), clip 1.0, one-cycle LR, bf16 autocast.
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

from bench.dalle_models import build_model, peak_tflops, synchronize  # noqa: E402
from training.config import Config, TrainConfig  # noqa: E402
from training.dalle import distributed  # noqa: E402
from training.dalle.forward import layer_masks  # noqa: E402
from training.dalle.freeze import cast_frozen, freeze  # noqa: E402
from training.dalle.loss import LossModule  # noqa: E402
from training.dalle.optim import make_optimizer, make_scaler, make_scheduler, optimizer_step  # noqa: E402


def step_flops(model, batch: int) -> float:
    """Model FLOPs of one step: forward 2N, input gradients 2N, weight gradients 2N only for trainable weights."""
    seq = model.text_seq_length + model.image_seq_length
    layers = model.transformer.layers
    h = model.transformer.layers[0].attention.hidden_size
    matmul = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "embeddings" not in n)
    trainable = sum(p.numel() for n, p in model.named_parameters()
                    if p.dim() == 2 and "embeddings" not in n and p.requires_grad)
    attention = 2 * 2 * seq * h * len(layers)  # QK^T and AV per token, forward
    per_token = 2 * matmul + 2 * matmul + 2 * trainable + 3 * attention
    return per_token * seq * batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--batch", type=int, default=None, help="default: 2 (full), 64 (tiny)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frozen-bf16", action=argparse.BooleanOptionalAction, default=True,
                        help="keep frozen weights in bf16, as the training loop does on CUDA")
    parser.add_argument("--checkpointing", action="store_true", help="recompute each layer in backward")
    parser.add_argument("--optimizer", choices=["adamw8bit", "adamw"], default="adamw8bit")
    parser.add_argument("--ddp", action="store_true",
                        help="wrap the step in DDP as the training loop does under torchrun (launch with torchrun)")
    args = parser.parse_args()
    world = distributed.World()
    if args.ddp:
        if not distributed.launched():
            raise SystemExit("--ddp: launch with torchrun / python -m torch.distributed.run")
        world = distributed.setup("cuda" if args.device.startswith("cuda") else "cpu")
    device = world.device(args.device) if world.backend == "nccl" else torch.device(args.device)
    batch = args.batch or (2 if args.size == "full" else 64)
    if args.size == "full" and device.type != "cuda":
        raise SystemExit("--size full needs a CUDA device")

    model, build_s = build_model(args.size, device)
    report = freeze(model, ["attention", "mlp"] if args.size == "full" else [])
    model.train()
    if device.type == "cuda" and args.frozen_bf16:
        cast_frozen(model, torch.bfloat16)
    config = Config(train=TrainConfig(optimizer=args.optimizer, max_lr=1e-5, batch_size=batch))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, optimizer_name = make_optimizer(params, config, device)
    scheduler = make_scheduler(optimizer, config, args.warmup + args.steps + 1)
    loss_fn = distributed.wrap(world, LossModule(model, 1e3, layer_masks(model)), device)
    g = torch.Generator().manual_seed(0)
    text = torch.randint(4, model.vocab_size - model.text_seq_length, (batch, model.text_seq_length), generator=g)
    image = torch.randint(0, model.image_embeddings.num_embeddings, (batch, model.image_seq_length), generator=g)
    text, image = text.to(device), image.to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    scaler = make_scaler("bf16", device)  # disabled: bf16 needs no loss scaling

    def step():  # the training loop's step (train.py), sharding aside: world size 1
        with autocast:
            loss, loss_text, loss_image = loss_fn(text, image, checkpoint=args.checkpointing)
        optimizer_step(loss, params, optimizer, scaler, 1.0)  # the training loop's step
        scheduler.step()
        return distributed.sum_over_ranks(world, torch.stack([loss, loss_text, loss_image]).detach())

    for _ in range(args.warmup):
        step()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for _ in range(args.steps):
        losses = step()
    synchronize(device)
    seconds = time.perf_counter() - started
    samples_per_s = batch * args.steps / seconds
    seq = model.text_seq_length + model.image_seq_length
    result = {
        "size": args.size, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(), "batch": batch, "steps": args.steps, "optimizer": optimizer_name, "frozen_bf16": args.frozen_bf16, "checkpointing": args.checkpointing,
        "params_M": round(report.total / 1e6, 1), "trainable_M": round(report.trainable / 1e6, 1),
        "build_s": round(build_s, 1), "s_per_step": round(seconds / args.steps, 4),
        "samples_per_s": round(samples_per_s, 2), "tokens_per_s": round(samples_per_s * seq),
        "loss": round(float(losses[0]), 4), "ddp": world.describe() if world.active else "no",
    }
    if device.type == "cuda":
        result["peak_gpu_memory_GB"] = round(torch.cuda.max_memory_allocated(device) / 1e9, 2)
        peak = peak_tflops(device)
        achieved = step_flops(model, batch) * args.steps / seconds / 1e12
        result["model_TFLOPs"] = round(achieved, 1)
        if peak:
            result["MFU"] = round(achieved / peak, 3)
    else:
        result["peak_rss_GB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    if world.is_main:
        print(json.dumps(result))
    distributed.shutdown_process_group()


if __name__ == "__main__":
    main()
