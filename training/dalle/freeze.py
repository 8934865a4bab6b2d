"""Freezing by rudalle parameter names: the recipe freezes self-attention and feed-forward.

`freeze(model, ["attention", "mlp"])` turns off gradients for parameters under `.attention.` and
`.mlp.`; embeddings, every layer norm and `to_logits` keep training (about 102M of Malevich's 1.31B).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FreezeReport:
    trainable: int
    total: int

    def __str__(self) -> str:
        return f"{self.trainable / 1e6:.2f}M of {self.total / 1e6:.2f}M parameters train"


def is_frozen(name: str, parts: list[str]) -> bool:
    return any(f".{part}." in f".{name}" for part in parts)


def freeze(model: torch.nn.Module, parts: list[str]) -> FreezeReport:
    trainable = total = 0
    for name, param in model.named_parameters():
        param.requires_grad_(not is_frozen(name, parts))
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return FreezeReport(trainable, total)


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights a checkpoint must keep: every parameter that trains."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def cast_frozen(model: torch.nn.Module, dtype: torch.dtype) -> int:
    """Keep frozen weights in the autocast dtype (bf16 on GPU): autocast would cast them to it at every
    step anyway, so the numbers are the same, with half the memory and no per-step casts. Returns bytes saved."""
    saved = 0
    for param in model.parameters():
        if not param.requires_grad and param.dtype != dtype and param.is_floating_point():
            saved += param.numel() * (param.element_size() - torch.empty((), dtype=dtype).element_size())
            param.data = param.data.to(dtype)
    return saved
