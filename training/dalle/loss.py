"""The recipe's weighted cross-entropy, aligned with how the sampler draws image tokens.

loss = (loss_text + w · loss_image) / (w + 1), w = train.loss_img_weight (1e3 in the recipe).

Every image token i_k is scored against the image vocabulary at the position that predicts it
(P + k - 1, see forward.py), exactly as `sampler.py` draws it. rudalle's own v3 loss instead scores i_0
against the text vocabulary; for v2 rudalle's loss and this one agree (tests check both facts).
Text: the prefix positions predict the following text tokens (padding replaced by positional pad
tokens, as rudalle does), from the text vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from training.dalle.forward import embed, hidden_states, layer_masks, logits_slice, prefix_length, text_tokens


@dataclass
class Losses:
    loss: torch.Tensor
    text: torch.Tensor
    image: torch.Tensor


def weighted(loss_text: torch.Tensor, loss_image: torch.Tensor, weight: float) -> torch.Tensor:
    return (loss_text + weight * loss_image) / (weight + 1)


def dalle_losses(
    model,
    text_ids: torch.Tensor,
    image_ids: torch.Tensor,
    loss_img_weight: float,
    reduction: str = "mean",
    checkpoint: bool = False,
    masks=None,
) -> Losses:
    """Losses for a batch of (text ids [B, T], image codes [B, I]).

    `reduction="none"` gives per-sample means (used to check the sampler's perplexity).
    """
    p, n_img = prefix_length(model), image_ids.shape[1]
    # The last image token predicts nothing; v3 still runs it (the sequence stays total_seq_length long,
    # a multiple of 16 that attention kernels like), v2's BOS shift makes it fall off the end.
    x = embed(model, text_ids, image_ids)[:, : model.total_seq_length]
    h = hidden_states(model, x, masks or layer_masks(model), checkpoint=checkpoint)
    text_targets = text_tokens(model, text_ids)[:, 1:p]
    text_logits = logits_slice(model, h[:, : p - 1], "text").float()
    image_logits = logits_slice(model, h[:, p - 1 : p - 1 + n_img], "image").float()
    loss_text = F.cross_entropy(text_logits.transpose(1, 2), text_targets, reduction="none").mean(dim=1)
    loss_image = F.cross_entropy(image_logits.transpose(1, 2), image_ids, reduction="none").mean(dim=1)
    if reduction == "mean":
        loss_text, loss_image = loss_text.mean(), loss_image.mean()
    return Losses(weighted(loss_text, loss_image, loss_img_weight), loss_text, loss_image)


class LossModule(torch.nn.Module):
    """The training losses as a module's forward (loss, text, image), so DDP, which hooks a module's
    forward to synchronise gradients, can wrap the training step; its parameters are the model's."""

    def __init__(self, model: torch.nn.Module, loss_img_weight: float, masks=None) -> None:
        super().__init__()
        self.model, self.loss_img_weight = model, loss_img_weight
        self.masks = masks if masks is not None else layer_masks(model)

    def forward(self, text_ids: torch.Tensor, image_codes: torch.Tensor, checkpoint: bool = False):
        losses = dalle_losses(self.model, text_ids, image_codes, self.loss_img_weight, checkpoint=checkpoint,
                              masks=self.masks)
        return losses.loss, losses.text, losses.image
