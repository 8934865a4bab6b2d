"""The ruDALL-E forward pass, written over rudalle's own modules and weights.

rudalle's `DalleModel.forward` materialises every attention matrix and, in its cached path, re-runs
layer norms over the whole sequence at every step. This file computes the same function with
`scaled_dot_product_attention` (same masks, same layers), so training needs far less memory and
generation keeps a preallocated key/value cache. `tests/test_sampling.py` checks both against rudalle's
forward.

Sequence layout. With `P = text_seq_length (+1 in v2, which prepends BOS id 2)` prefix positions, image
token k sits at position P + k and is predicted by the logits at position P + k - 1, always from the
image part of the vocabulary (that is how it is sampled, and how `loss.py` scores it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BOS_ID = 2


def prefix_length(model) -> int:
    return model.text_seq_length + (1 if model.hf_version == "v2" else 0)


def text_tokens(model, text_ids: torch.Tensor) -> torch.Tensor:
    """Replace padding (id 0) by positional pad tokens, as rudalle does; v2 prepends BOS."""
    t = model.text_seq_length
    positions = torch.arange(t, device=text_ids.device) + (model.vocab_size - t)
    text = torch.where(text_ids == 0, positions, text_ids)
    if model.hf_version == "v2":
        text = F.pad(text, (1, 0), value=BOS_ID)
    return text


def image_position_embeddings(model, start: int, length: int, device) -> torch.Tensor:
    index = torch.arange(start, start + length, device=device)
    d = model.image_tokens_per_dim
    return model.image_row_embeddings(index // d) + model.image_col_embeddings(index % d)


def _shrink_grad(x: torch.Tensor) -> torch.Tensor:
    # rudalle scales the gradient reaching the embeddings by 0.1 (CogView's trick); values are unchanged.
    return x * 0.1 + x.detach() * 0.9


def embed(model, text_ids: torch.Tensor, image_ids: torch.Tensor | None) -> torch.Tensor:
    """Embeddings of the prefix and of `image_ids` (positions P .. P + n - 1)."""
    text = text_tokens(model, text_ids)
    x = model.text_embeddings(text) + model.text_pos_embeddings(torch.arange(text.shape[1], device=text.device))
    if image_ids is not None and image_ids.shape[1]:
        img = model.image_embeddings(image_ids) + image_position_embeddings(
            model, 0, image_ids.shape[1], image_ids.device
        )
        x = torch.cat((x, img), dim=1)
    return _shrink_grad(x)


def embed_image_tokens(model, image_ids: torch.Tensor, start: int) -> torch.Tensor:
    """Embeddings of image tokens `start .. start + n - 1` (for incremental decoding)."""
    pos = image_position_embeddings(model, start, image_ids.shape[1], image_ids.device)
    return _shrink_grad(model.image_embeddings(image_ids) + pos)


def layer_masks(model) -> list[torch.Tensor]:
    """Each layer's boolean attention mask (row, column or conv), as rudalle picks them."""
    tr = model.transformer
    return [tr._get_layer_mask(i).bool() for i in range(len(tr.layers))]


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, s, h = x.shape
    return x.view(b, s, heads, h // heads).transpose(1, 2)


def _layer(layer, x, mask, heads, cache=None, start=0):
    """One rudalle DalleTransformerLayer on positions start .. start + len(x) - 1."""
    attn = layer.attention
    h = layer.input_layernorm(x)
    q, k, v = (_split_heads(t, heads) for t in attn.query_key_value(h).chunk(3, dim=-1))
    end = start + x.shape[1]
    if cache is not None:
        keys, values = cache
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        k, v = keys[:, :, :end], values[:, :, :end]
    dropout = attn.attention_dropout.p if layer.training else 0.0
    ctx = F.scaled_dot_product_attention(q, k.to(q.dtype), v.to(q.dtype), attn_mask=mask[start:end, :end],
                                         dropout_p=dropout)
    ctx = ctx.transpose(1, 2).reshape(x.shape)
    out = attn.output_dropout(torch.clamp(attn.dense(ctx), min=-65504, max=65504))
    return _after_attention(layer, x, out)


def _after_attention(layer, x, out):
    """The rest of a layer once attention's output is known: sandwich norms, residuals, MLP."""
    if layer.cogview_sandwich_layernorm:
        out = layer.before_first_addition_layernorm(out)
    x = x + out
    mlp = _mlp(layer.mlp, layer.post_attention_layernorm(x))
    if layer.cogview_sandwich_layernorm:
        mlp = layer.before_second_addition_layernorm(mlp)
    return x + mlp


def _mlp(mlp, h):
    """rudalle's DalleMLP; its TorchScript tanh-GELU is the same formula as torch's tanh GELU, which keeps
    one saved tensor for backward instead of several."""
    if mlp.activation not in ("gelu_jit", "gelu"):
        return mlp(h)
    x = F.gelu(mlp.dense_h_to_4h(h), approximate="tanh")
    return mlp.dropout(mlp.dense_4h_to_h(x))


def hidden_states(model, x: torch.Tensor, masks, cache=None, start: int = 0, checkpoint: bool = False):
    """Run every transformer layer and the final layer norm (optionally with activation checkpointing)."""
    heads = model.transformer.layers[0].attention.num_attention_heads
    for i, layer in enumerate(model.transformer.layers):
        layer_cache = None if cache is None else cache[i]
        if checkpoint and torch.is_grad_enabled():
            x = torch.utils.checkpoint.checkpoint(_layer, layer, x, masks[i], heads, use_reentrant=False)
        else:
            x = _layer(layer, x, masks[i], heads, layer_cache, start)
    return model.transformer.final_layernorm(x)


def logits_slice(model, h: torch.Tensor, part: str) -> torch.Tensor:
    """`to_logits` restricted to the text or the image vocabulary (no wasted columns)."""
    norm, linear = model.to_logits[0], model.to_logits[1]
    cut = model.vocab_size
    rows = slice(None, cut) if part == "text" else slice(cut, None)
    return F.linear(norm(h), linear.weight[rows], linear.bias[rows])


def full_logits(model, input_ids: torch.Tensor) -> torch.Tensor:
    """Logits over the whole vocabulary for a text+image sequence, same positions as rudalle's forward."""
    t = model.text_seq_length
    x = embed(model, input_ids[:, :t], input_ids[:, t:])[:, : model.total_seq_length]
    h = hidden_states(model, x, layer_masks(model))
    return model.to_logits(h)


def new_cache(model, batch: int, length: int, device, dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A preallocated key/value cache for `length` positions."""
    layer0 = model.transformer.layers[0].attention
    heads, dim = layer0.num_attention_heads, layer0.hidden_size_per_attention_head
    shape = (batch, heads, length, dim)
    return [
        (torch.empty(shape, device=device, dtype=dtype), torch.empty(shape, device=device, dtype=dtype))
        for _ in model.transformer.layers
    ]


class StaticDecoder:
    """One decoding step with fixed shapes, for CUDA graph replay.

    Position, image index and token live in tensors; each layer writes its key/value at `pos` with
    `index_copy_` and attends over the whole (zero-initialised) cache with the mask row of `pos`, whose
    future columns are False. Same function as the dynamic path in `hidden_states(..., cache, start)`.
    On CUDA, `prepare()` records the step once and `step()` replays it: one launch instead of hundreds
    of small kernels per token.

    The cache has one slot more than the sequence needs: `scratch` (the last one). Warm-up runs, which
    CUDA graphs require before capture, write there and nowhere else, so preparing after `prefill` leaves
    the prompt's keys and values untouched; no live row of the mask sees the scratch column. `warm_up()`
    runs on any device, so CPU tests exercise exactly what a GPU does before capture.
    """

    WARM_UP_RUNS = 2

    def __init__(self, model, batch: int, masks, device, dtype):
        self.model, self.masks = model, masks
        self.length = prefix_length(model) + model.image_seq_length - 1  # live slots 0 .. length - 1
        self.scratch = self.length
        layer0 = model.transformer.layers[0].attention
        shape = (batch, layer0.num_attention_heads, self.length + 1, layer0.hidden_size_per_attention_head)
        self.cache = [(torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype))
                      for _ in model.transformer.layers]
        self.rows = [self._rows(mask, device) for mask in masks]
        self.pos = torch.zeros(1, dtype=torch.long, device=device)
        self.index = torch.zeros(1, dtype=torch.long, device=device)
        self.token = torch.zeros(batch, dtype=torch.long, device=device)
        self.logits = None
        self.graph = None

    def _rows(self, mask: torch.Tensor, device) -> torch.Tensor:
        """[length + 1, length + 1] mask rows: the model's for live slots (scratch column False), and a
        scratch row that sees everything (warm-up output is thrown away; it only has to be finite)."""
        n = self.length
        rows = torch.zeros(n + 1, n + 1, dtype=torch.bool, device=device)
        rows[:n, :n] = mask[:n, :n].to(device)
        rows[n] = True
        return rows

    def live_cache(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Views of every layer's live slots (what `prefill` and `step` write and attend over)."""
        return [(k[:, :, : self.length], v[:, :, : self.length]) for k, v in self.cache]

    def _run(self) -> torch.Tensor:
        model = self.model
        d = model.image_tokens_per_dim
        x = model.image_embeddings(self.token[:, None]) + (
            model.image_row_embeddings(self.index // d) + model.image_col_embeddings(self.index % d))[None]
        x = _shrink_grad(x)
        heads = model.transformer.layers[0].attention.num_attention_heads
        for layer, rows, (keys, values) in zip(model.transformer.layers, self.rows, self.cache, strict=True):
            attn = layer.attention
            h = layer.input_layernorm(x)
            q, k, v = (_split_heads(t, heads) for t in attn.query_key_value(h).chunk(3, dim=-1))
            keys.index_copy_(2, self.pos, k.to(keys.dtype))
            values.index_copy_(2, self.pos, v.to(values.dtype))
            row = rows.index_select(0, self.pos)
            ctx = F.scaled_dot_product_attention(q, keys.to(q.dtype), values.to(q.dtype), attn_mask=row)
            out = torch.clamp(attn.dense(ctx.transpose(1, 2).reshape(x.shape)), min=-65504, max=65504)
            x = _after_attention(layer, x, out)
        h = model.transformer.final_layernorm(x)
        return logits_slice(model, h[:, -1], "image").float()

    def prefill(self, x: torch.Tensor) -> torch.Tensor:
        """Run the prefix (eager) into the cache; returns the hidden states."""
        return hidden_states(self.model, x, self.masks, self.live_cache(), start=0)

    def warm_up(self) -> None:
        """Run the step `WARM_UP_RUNS` times on the scratch slot (token 0, image index 0)."""
        self.token.zero_()
        self.index.zero_()
        self.pos.fill_(self.scratch)
        for _ in range(self.WARM_UP_RUNS):
            self._run()

    def prepare(self, capture: bool | None = None) -> None:
        """Warm up; on CUDA (or when `capture`) also record the step as a CUDA graph. Safe after `prefill`."""
        capture = self.pos.device.type == "cuda" if capture is None else capture
        if not capture:
            self.warm_up()
            return
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.warm_up()  # CUDA graphs need a warm-up on a side stream before capture
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):  # recorded, not run: nothing is written during capture
            self.logits = self._run()

    def step(self, token: torch.Tensor, image_index: int) -> torch.Tensor:
        """Feed image token `image_index` (sequence position P + image_index); logits for the next one."""
        self.token.copy_(token)
        self.index.fill_(image_index)
        self.pos.fill_(prefix_length(self.model) + image_index)
        if self.graph is None:
            return self._run()
        self.graph.replay()
        return self.logits
