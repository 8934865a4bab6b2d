"""A small rudalle `VQGanGumbelVAE` trained on the emoji dataset (the tiny path's image tokenizer).

Config from RUDALLE-NOTES (what trains on 2 CPU cores): width 32, ch_mult [1, 2, 4] (×4 down: 32 px →
8×8 codes), 512 codes, L1 + MSE reconstruction plus the Gumbel KL term, temperature annealed by hand
from 1.0 to 0.5. Saved as a plain dict {"config", "state_dict"} (torch loads with weights_only=True).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from training.config import Config, VaeConfig
from training.rudalle_import import quiet_rudalle


def vae_config(vc: VaeConfig, n_embed: int) -> dict:
    return {
        "model": {
            "params": {
                "kl_weight": vc.kl_weight,
                "embed_dim": vc.embed_dim,
                "n_embed": n_embed,
                "ddconfig": {
                    "double_z": False,
                    "z_channels": vc.z_channels,
                    "resolution": vc.resolution,
                    "in_channels": 3,
                    "out_ch": 3,
                    "ch": vc.ch,
                    "ch_mult": list(vc.ch_mult),
                    "num_res_blocks": vc.num_res_blocks,
                    "attn_resolutions": [1],  # must not be empty (rudalle takes a log of it)
                    "dropout": 0.0,
                },
            }
        }
    }


def build_vae(config: dict):
    quiet_rudalle()
    from rudalle.vae.model import VQGanGumbelVAE

    vae = VQGanGumbelVAE(OmegaConf.create(config))
    vae.image_size = config["model"]["params"]["ddconfig"]["resolution"]
    return vae


def load_vae(path: Path):
    data = torch.load(path, map_location="cpu", weights_only=True)
    vae = build_vae(data["config"])
    vae.load_state_dict(data["state_dict"])
    return vae.eval()


def reconstruct(vae, images: torch.Tensor) -> torch.Tensor:
    """Deterministic round trip through the codes (what the transformer sees)."""
    with torch.no_grad():
        return vae.decode(vae.get_codebook_indices(images, disable_gumbel_softmax=True))


def train_vae(images: torch.Tensor, config: Config, path: Path, progress: bool = True) -> dict:
    """Train on `images` [N, 3, R, R] in [0, 1]; save to `path` atomically; return a small report."""
    vc = config.vae
    torch.manual_seed(vc.seed)
    generator = torch.Generator().manual_seed(vc.seed)
    cfg = vae_config(vc, config.model.image_vocab_size)
    vae = build_vae(cfg).train()
    gumbel = vae.model
    optimizer = torch.optim.Adam(gumbel.parameters(), lr=vc.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=vc.lr, total_steps=max(vc.steps, 1),
                                                    pct_start=0.1)
    started = time.perf_counter()
    bar = tqdm(range(vc.steps), desc="vae", unit="it", disable=not progress, dynamic_ncols=True)
    loss_value = float("nan")
    for step in bar:
        frac = step / max(vc.steps - 1, 1)
        gumbel.quantize.temperature = vc.temperature_start + frac * (vc.temperature_end - vc.temperature_start)
        batch = images[torch.randint(len(images), (vc.batch_size,), generator=generator)]
        x = batch * 2 - 1
        quant, kl, _ = gumbel.encode(x)
        recon = gumbel.decode(quant)
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_value = loss.item()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss_value:.3f}", tau=f"{gumbel.quantize.temperature:.2f}")
    vae.eval()
    with torch.no_grad():
        sample = images[: min(len(images), 256)]
        l1 = F.l1_loss(reconstruct(vae, sample), sample).item()
        used = vae.get_codebook_indices(sample, disable_gumbel_softmax=True).unique().numel()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"config": cfg, "state_dict": vae.state_dict()}, tmp)
    tmp.replace(path)
    return {"seconds": time.perf_counter() - started, "loss": loss_value, "l1": l1, "codes_used": used}
