"""The recipe's optimiser and LR schedule (no database imports: benchmarks use them on bare GPU machines)."""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from training.config import Config


def make_optimizer(params, config: Config, device: torch.device) -> tuple[torch.optim.Optimizer, str]:
    """bitsandbytes AdamW8bit (the recipe); torch AdamW (fused on CUDA) only when bitsandbytes cannot run."""
    tc = config.train
    if tc.optimizer == "adamw8bit":
        try:
            import bitsandbytes as bnb

            optimizer = bnb.optim.AdamW8bit(params, lr=tc.max_lr, weight_decay=tc.weight_decay)
            return optimizer, "bitsandbytes.AdamW8bit"
        except Exception as exc:  # bitsandbytes missing or without a usable backend here
            tqdm.write(f"bitsandbytes AdamW8bit unavailable ({type(exc).__name__}: {exc}); using torch.optim.AdamW")
    fused = device.type == "cuda"
    return torch.optim.AdamW(params, lr=tc.max_lr, weight_decay=tc.weight_decay, fused=fused), "torch.AdamW"


def make_scheduler(optimizer, config: Config, total_steps: int):
    """One-cycle LR stepped every iteration: max_lr/div_factor → max_lr → max_lr/div_factor/final_div_factor."""
    tc = config.train
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=tc.max_lr, total_steps=total_steps, pct_start=tc.pct_start,
        div_factor=tc.div_factor, final_div_factor=tc.final_div_factor,
    )


def make_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """fp16 needs loss scaling (its gradients underflow without it); bf16 and fp32 do not: disabled there."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def optimizer_step(loss: torch.Tensor, params, optimizer, scaler: torch.amp.GradScaler,
                   grad_clip: float) -> tuple[torch.Tensor, bool]:
    """Backward, unscale, clip, step: (gradient norm before clipping, whether the step was taken).

    With fp16 the loss is scaled before backward and the gradients unscaled before clipping, so clipping
    sees true gradient norms; a step whose gradients hold inf or NaN is skipped and the scale lowered
    (torch.amp.GradScaler). Without scaling, a non-finite gradient norm skips the step as well, rather
    than writing NaN into the weights.
    """
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)  # a no-op when the scaler is disabled
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
    if scaler.is_enabled():
        scale = scaler.get_scale()
        scaler.step(optimizer)  # skipped when unscale_ found inf/NaN
        scaler.update()
        return grad_norm, scaler.get_scale() >= scale
    if not torch.isfinite(grad_norm):
        optimizer.zero_grad(set_to_none=True)
        return grad_norm, False
    optimizer.step()
    return grad_norm, True
