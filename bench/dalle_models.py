"""Shared by bench_train and bench_generate: build a model of a named size, random init, on a device."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rudalle_light import dalle_model_class, malevich_params, sber_vae_config, vae_class  # noqa: E402

# Dense bf16 peak (TFLOP/s) for MFU, by device name.
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def build_model(size: str, device: torch.device, hf_version: str | None = None):
    """`hf_version` None: the recipe's v2 (Malevich_v2) at full size, configs/tiny.toml's at tiny size."""
    DalleModel = dalle_model_class()
    if size == "full":
        params = malevich_params()
        hf_version = hf_version or "v2"
    else:
        from training.config import load_config

        mc = load_config("tiny").model
        params = dict(num_layers=mc.num_layers, hidden_size=mc.hidden_size, num_attention_heads=mc.num_attention_heads,
                      embedding_dropout_prob=mc.dropout, output_dropout_prob=mc.dropout,
                      attention_dropout_prob=mc.dropout, image_tokens_per_dim=mc.image_tokens_per_dim,
                      text_seq_length=mc.text_seq_length, cogview_sandwich_layernorm=True, cogview_pb_relax=True,
                      vocab_size=600 + mc.text_seq_length, image_vocab_size=mc.image_vocab_size)
        hf_version = hf_version or mc.hf_version
    torch.manual_seed(0)
    started = time.perf_counter()
    model = DalleModel(device="cpu", hf_version=hf_version, **params)  # masks are built on the CPU
    model = model.to(device)
    model.device = device
    return model, time.perf_counter() - started


def build_vae(size: str, device: torch.device):
    VQGanGumbelVAE = vae_class()
    if size == "full":
        vae = VQGanGumbelVAE(sber_vae_config())
    else:
        from training.config import load_config
        from training.tiny.vae import build_vae as build_tiny
        from training.tiny.vae import vae_config

        config = load_config("tiny")
        vae = build_tiny(vae_config(config.vae, config.model.image_vocab_size))
    return vae.to(device).eval()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
