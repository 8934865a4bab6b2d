"""The tiny path's model: a random-init rudalle DalleModel of the config's geometry, with the tokenizer and
VAE trained by training.tiny (files under the config's cache dir)."""
from __future__ import annotations

from pathlib import Path

import torch

from db.errors import EmojichError
from training.config import Config, ModelConfig
from training.dalle.bundle import ModelBundle, cache_dir, check_files
from training.rudalle_import import quiet_rudalle
from training.tiny.tokenizer import load_tokenizer
from training.tiny.vae import load_vae

TINY_VAE_FILE = "vae.pt"
TINY_TOKENIZER_FILE = "bpe.model"


def build_tiny_model(mc: ModelConfig, text_vocab_size: int, seed: int = 0):
    """A random-init rudalle DalleModel of the config's geometry (text vocab = tokenizer + positions)."""
    quiet_rudalle()
    from rudalle.dalle import DalleModel

    torch.manual_seed(seed)
    return DalleModel(
        device="cpu",
        num_layers=mc.num_layers,
        vocab_size=text_vocab_size + mc.text_seq_length,
        hidden_size=mc.hidden_size,
        num_attention_heads=mc.num_attention_heads,
        embedding_dropout_prob=mc.dropout,
        attention_dropout_prob=mc.dropout,
        output_dropout_prob=mc.dropout,
        text_seq_length=mc.text_seq_length,
        image_tokens_per_dim=mc.image_tokens_per_dim,
        image_vocab_size=mc.image_vocab_size,
        cogview_sandwich_layernorm=True,
        cogview_pb_relax=True,
        hf_version=mc.hf_version,
    )


def tiny_files(config: Config, home: Path) -> tuple[Path, Path]:
    root = cache_dir(config.model, home)
    return root / TINY_VAE_FILE, root / TINY_TOKENIZER_FILE


def load_tiny(config: Config, home: Path, device: torch.device, seed: int | None = None) -> ModelBundle:
    vae_path, tok_path = tiny_files(config, home)
    check_files([vae_path, tok_path], "tiny model files (`emojich train --config tiny` trains them)")
    tokenizer = load_tokenizer(tok_path)
    vae = load_vae(vae_path).to(device).eval()
    if vae.num_tokens != config.model.image_vocab_size:
        raise EmojichError(
            f"the tiny VAE has {vae.num_tokens} codes but model.image_vocab_size is {config.model.image_vocab_size}"
        )
    model = build_tiny_model(config.model, tokenizer.vocab_size(), config.train.seed if seed is None else seed)
    model = model.to(device)
    model.device = device
    return ModelBundle(model=model.eval(), tokenizer=tokenizer, vae=vae, config=config, device=device)
