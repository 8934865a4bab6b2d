"""Prompts → text token ids, with the checks a user-facing prompt needs.

Empty, whitespace-only or NUL-containing prompts, and prompts without a single letter or digit (emoji
or punctuation alone: the text tokenizer has nothing to read), are refused with one line; a prompt longer
than the model's text length is truncated with a warning; Latin letters are accepted (the tokenizer maps
what it does not know to UNK).

What the model sees, prompts and training captions alike, is `model_text`: exactly what
`rudalle.pipelines.generate_images` does before `tokenizer.encode_text` (lowercase, strip; no "ё" → "е",
no other change), so the token ids are the ones Malevich was trained and sampled with.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from db.errors import EmojichError


class BadPrompt(EmojichError):
    pass


class EmptyPrompt(BadPrompt):
    pass


class NoWords(BadPrompt):
    pass


class PromptTruncated(UserWarning):
    pass


def model_text(text: str) -> str:
    """rudalle's pipeline preprocessing: `text.lower().strip()`, nothing more."""
    return text.lower().strip()


def check_prompt(text: str) -> str:
    """The prompt as the model will see it; one clear error for an empty or NUL-containing one."""
    if "\x00" in text:
        raise BadPrompt("prompt contains a NUL character")
    if not text.strip():
        raise EmptyPrompt("prompt is empty")
    if not any(ch.isalnum() for ch in text):
        raise NoWords("prompt has no words: emoji and punctuation alone mean nothing to the text tokenizer")
    return model_text(text)


def encode_text(tokenizer, text: str, text_seq_length: int) -> torch.Tensor:
    """Token ids of a caption or prompt exactly as rudalle's pipeline encodes it (no checks, no warning)."""
    return tokenizer.encode_text(model_text(text), text_seq_length=text_seq_length)


def encode_prompt(tokenizer, text: str, text_seq_length: int, warn: bool = True) -> torch.Tensor:
    """Token ids [text_seq_length] (BOS, tokens, EOS, zero padding), rudalle's layout."""
    normalized = check_prompt(text)
    pieces = tokenizer.tokenizer.encode([normalized])[0]
    if warn and len(pieces) + 2 > text_seq_length:
        kept = tokenizer.tokenizer.decode([pieces[: max(text_seq_length - 1, 0)]])[0]
        warnings.warn(
            f"prompt {text!r} is {len(pieces) + 2} tokens, longer than the model's {text_seq_length}; "
            f"truncated to {kept!r}",
            PromptTruncated,
            stacklevel=2,
        )
    return encode_text(tokenizer, normalized, text_seq_length)


def encode_prompts(tokenizer, texts: list[str], text_seq_length: int, warn: bool = True) -> torch.Tensor:
    return torch.stack([encode_prompt(tokenizer, t, text_seq_length, warn) for t in texts])


def read_prompt_file(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise EmojichError(f"prompt file {path} not found")
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [t for t in texts if t and not t.startswith("#")]
    for t in texts:
        check_prompt(t)
    return texts
