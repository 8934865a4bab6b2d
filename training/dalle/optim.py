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
