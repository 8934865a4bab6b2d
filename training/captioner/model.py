"""The inverse model: rudalle's `DalleModel` reading the image tokens first, then the caption.

Sequence (length I + T - 1, I image tokens, T = text_seq_length):
- positions 0 .. I-1: image tokens i_0 .. i_{I-1} (image embeddings + row/column position embeddings);
- positions I .. I+T-2: text tokens t_0 .. t_{T-2}, where t is rudalle's text ids with padding (id 0)
  replaced by positional pad tokens and t_0 is BOS (text embeddings + text position embeddings 0 ..).
The hidden state at position I + j - 1 predicts t_j (j = 1 .. T-1) from the text part of `to_logits`.

Caption loss of a caption given an image: the mean cross-entropy over the caption's own tokens and its
EOS (the t_j whose text id is not padding), in nats; padding is never scored. Training minimises the
same cross-entropy (mean over every caption token of the batch).

Attention: among image tokens each layer keeps its rudalle pattern (row, column or the last layer's
conv mask, the 2-D sparse masks Malevich was trained with); every text token sees the whole image and
the text before it; no image token sees text. The parameters are exactly DalleModel's, so a release such
as Malevich loads as it is and fine-tunes into a captioner.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from training.dalle.forward import hidden_states, image_position_embeddings, layer_masks, logits_slice


def sequence_length(model) -> int:
    return model.image_seq_length + model.text_seq_length - 1


def reversed_masks(model) -> list[torch.Tensor]:
    """Each layer's boolean attention mask [L, L] for the image-then-text sequence."""
    n_img, t = model.image_seq_length, model.text_seq_length
    length = sequence_length(model)
    text_rows = torch.tril(torch.ones(length, length, dtype=torch.bool))[n_img:]
    masks = []
    for rudalle_mask in layer_masks(model):  # text-first masks: image token k sits at row/column t + k
        mask = torch.zeros(length, length, dtype=torch.bool, device=rudalle_mask.device)
        mask[:n_img, :n_img] = rudalle_mask[t:t + n_img, t:t + n_img]
        mask[n_img:] = text_rows.to(mask.device)
        masks.append(mask)
    return masks


def text_tokens(model, text_ids: torch.Tensor) -> torch.Tensor:
    """rudalle's text input: padding (id 0) replaced by positional pad tokens (no v2 BOS shift here)."""
    t = model.text_seq_length
    positions = torch.arange(t, device=text_ids.device) + (model.vocab_size - t)
    return torch.where(text_ids == 0, positions, text_ids)


def caption_mask(text_ids: torch.Tensor) -> torch.Tensor:
    """[B, T-1]: which targets t_1 .. t_{T-1} are the caption's own tokens or its EOS (not padding)."""
    return text_ids[:, 1:] != 0


def embed(model, image_codes: torch.Tensor, text_ids: torch.Tensor) -> torch.Tensor:
    n_img = image_codes.shape[1]
    if n_img != model.image_seq_length:
        raise ValueError(f"{n_img} image tokens, the model takes {model.image_seq_length}")
    img = model.image_embeddings(image_codes) + image_position_embeddings(model, 0, n_img, image_codes.device)
    text = text_tokens(model, text_ids)[:, :-1]
    txt = model.text_embeddings(text) + model.text_pos_embeddings(torch.arange(text.shape[1], device=text.device))
    x = torch.cat((img, txt), dim=1)
    return x * 0.1 + x.detach() * 0.9  # rudalle's (CogView's) smaller gradient into the embeddings


def token_losses(model, image_codes: torch.Tensor, text_ids: torch.Tensor, masks=None,
                 checkpoint: bool = False) -> torch.Tensor:
    """Cross-entropy [B, T-1] of t_1 .. t_{T-1} given the image and the text before each one."""
    n_img = model.image_seq_length
    x = embed(model, image_codes, text_ids)
    h = hidden_states(model, x, masks or reversed_masks(model), checkpoint=checkpoint)
    logits = logits_slice(model, h[:, n_img:], "text").float()
    targets = text_tokens(model, text_ids)[:, 1:]
    return F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")


def caption_losses(model, image_codes: torch.Tensor, text_ids: torch.Tensor, masks=None) -> torch.Tensor:
    """Caption loss per pair [B]: mean CE over each caption's tokens and EOS (padding excluded)."""
    losses = token_losses(model, image_codes, text_ids, masks)
    keep = caption_mask(text_ids).to(losses.dtype)
    return (losses * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)


def training_loss(model, image_codes: torch.Tensor, text_ids: torch.Tensor, masks=None,
                  checkpoint: bool = False) -> torch.Tensor:
    """The captioner's objective: mean CE over every caption token (and EOS) of the batch."""
    losses = token_losses(model, image_codes, text_ids, masks, checkpoint=checkpoint)
    keep = caption_mask(text_ids).to(losses.dtype)
    return (losses * keep).sum() / keep.sum().clamp(min=1)
