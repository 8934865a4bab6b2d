"""A small rudalle `VQGanGumbelVAE` trained on the emoji dataset (the tiny path's image tokenizer).

Geometry and schedule come from the config's [vae] (configs/tiny.toml: width 32, ch_mult [1, 1, 2], ×4 down:
32 px → 8×8 codes), L1 + MSE reconstruction plus the Gumbel KL term, temperature annealed by hand.
Saved as a plain dict {"config", "state_dict", "trained_with"} (torch loads it with weights_only=True),
serialised through memory so the bytes depend on the weights alone, not on the file's name: the same
settings, data and thread count give the same file, bit for bit.

`training/tiny/shipped/` holds VAEs made this way by `emojich tiny-vae` (see README); `shipped_vae`
returns one only when it was trained with exactly the config's settings.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.resources
import io
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

    with contextlib.redirect_stdout(io.StringIO()):  # taming prints "Working with z of shape ..."
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


SHIPPED_DIR = Path(str(importlib.resources.files("training.tiny") / "shipped"))


def trained_with(config: Config) -> dict:
    """Everything that decides the trained weights, besides the images and the thread count."""
    vae = {k: v for k, v in dataclasses.asdict(config.vae).items() if k != "shipped"}
    data = config.data
    return {"vae": vae, "n_embed": config.model.image_vocab_size,
            "dataset": {"name": data.dataset, "build_size": data.build_size, "build_limit": data.build_limit}}


def images_fingerprint(images: torch.Tensor) -> str:
    """sha256 of the training images as 8-bit pixels (what a rebuild must see to match bit for bit)."""
    return hashlib.sha256((images * 255).round().to(torch.uint8).contiguous().numpy().tobytes()).hexdigest()


def read_trained_with(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True).get("trained_with", {})


def shipped_vae(config: Config) -> tuple[Path | None, str | None]:
    """(the shipped VAE for this config, None) or (None, why not; None when the config names none)."""
    if not config.vae.shipped:
        return None, None
    path = SHIPPED_DIR / config.vae.shipped
    if not path.is_file():
        return None, f"vae.shipped names {config.vae.shipped}, which is not in {SHIPPED_DIR}"
    recorded = read_trained_with(path)
    wanted = trained_with(config)
    for section, values in wanted.items():
        have = recorded.get(section)
        if have != values:
            diff = next((k for k in values if not isinstance(have, dict) or have.get(k) != values[k]), section) \
                if isinstance(values, dict) else section
            return None, f"the shipped {path.name} was made with other {section} settings ({diff})"
    return path, None


def save_vae(path: Path, state: dict) -> Path:
    """Write atomically; the bytes are torch.save's through memory (archive name independent of `path`)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return path


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
    fingerprint = images_fingerprint(images)
    save_vae(path, {"config": cfg, "state_dict": vae.state_dict(),
                    "trained_with": {**trained_with(config), "images_sha256": fingerprint,
                                     "threads": torch.get_num_threads(), "torch": str(torch.__version__)}})
    return {"seconds": time.perf_counter() - started, "loss": loss_value, "l1": l1, "codes_used": used,
            "images_sha256": fingerprint}
