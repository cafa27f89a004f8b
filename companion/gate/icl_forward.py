"""The arithmetic behind the in-context judge: a cached-prefix Llama forward and SVD pruning.

Why a hand-written forward instead of `model(...)`: the judge reads the same k demonstrations
before every question, and the SVD search changes one layer at a time, deepest first. Both are
only affordable on a laptop CPU when (a) the demonstrations ("prefix") are run once and their
keys/values reused by every question, and (b) the hidden states entering layer L are cached so
that a candidate pruning of layer L re-runs only layers L..N-1. transformers' own cache objects
index layers by absolute position and assume the stack starts at layer 0, so the few lines of a
Llama decoder layer are spelled out here (checked against `model(...)` in the tests).

The score of a question is the logit of " accepted" minus the logit of " rejected" at its last
token (equal to the difference of their log-probabilities).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

MODULES = {
    "attention": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"),
    "mlp": ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"),
}


@dataclass(frozen=True)
class PlanStep:
    """Keep `ratio` of the rank of every matrix of `module` in decoder layer `layer`."""

    layer: int
    module: str
    ratio: float


def save_plan(path: Path, steps: Sequence[PlanStep], **details: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"steps": [asdict(s) for s in steps], **details}, indent=2))
    tmp.replace(path)


def load_plan(path: Path) -> list[PlanStep]:
    """The steps of a saved plan; a damaged file raises ValueError naming the file."""
    try:
        raw = json.loads(path.read_text())
        steps = [PlanStep(int(s["layer"]), str(s["module"]), float(s["ratio"])) for s in raw["steps"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid SVD plan ({exc}); delete it or rerun `companion train svd`") from None
    for step in steps:
        if step.module not in MODULES or not 0 < step.ratio <= 1:
            raise ValueError(f"{path}: bad plan step {step}")
    return steps


def _linear(layer: torch.nn.Module, dotted: str) -> torch.nn.Linear:
    module = layer
    for part in dotted.split("."):
        module = getattr(module, part)
    return module  # type: ignore[return-value]


def module_weights(model: Any, layer: int, module: str) -> list[torch.nn.Linear]:
    block = model.model.layers[layer]
    return [_linear(block, name) for name in MODULES[module]]


@torch.no_grad()
def low_rank(weight: torch.Tensor, ratio: float, seed: int = 0) -> torch.Tensor:
    """`weight` reduced to round(ratio × full rank) singular directions with torch.svd_lowrank."""
    full = min(weight.shape)
    rank = max(1, int(round(ratio * full)))
    if rank >= full:
        return weight.clone()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # svd_lowrank uses a random projection; make plans reproducible
    try:
        u, s, v = torch.svd_lowrank(weight.float(), q=rank, niter=4)
    finally:
        torch.random.set_rng_state(state)
    return (u * s) @ v.T


@torch.no_grad()
def apply_plan(model: Any, steps: Sequence[PlanStep]) -> None:
    """Prune the model's weights in place as the plan says (the judge does this at load time)."""
    for step in steps:
        if step.layer < 0 or step.layer >= len(model.model.layers):
            raise ValueError(f"plan layer {step.layer} is outside the model's {len(model.model.layers)} layers")
        for linear in module_weights(model, step.layer, step.module):
            linear.weight.copy_(low_rank(linear.weight, step.ratio).to(linear.weight.dtype))


def _attention_layer(block: Any, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                     past: tuple[torch.Tensor, torch.Tensor] | None,
                     mask: torch.Tensor | None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """One Llama decoder layer; returns the new hidden states and this call's (keys, values)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    attn = block.self_attn
    batch, length, _ = h.shape
    x = block.input_layernorm(h)
    q = attn.q_proj(x).view(batch, length, -1, attn.head_dim).transpose(1, 2)
    k = attn.k_proj(x).view(batch, length, -1, attn.head_dim).transpose(1, 2)
    v = attn.v_proj(x).view(batch, length, -1, attn.head_dim).transpose(1, 2)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    own = (k, v)
    if past is not None:
        k = torch.cat([past[0].expand(batch, -1, -1, -1), k], dim=2)
        v = torch.cat([past[1].expand(batch, -1, -1, -1), v], dim=2)
    groups = attn.num_key_value_groups
    k = k.repeat_interleave(groups, dim=1)
    v = v.repeat_interleave(groups, dim=1)
    if mask is None:
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=attn.scaling)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scaling)
    h = h + attn.o_proj(out.transpose(1, 2).reshape(batch, length, -1))
    h = h + block.mlp(block.post_attention_layernorm(h))
    return h, own


class PrefixScorer:
    """Scores questions after a fixed prefix (the demonstrations) with a Llama-style model."""

    def __init__(self, model: Any, tokenizer: Any, yes: str = " accepted", no: str = " rejected") -> None:
        self.model = model
        self.tokenizer = tokenizer
        ids = [tokenizer.encode(word, add_special_tokens=False) for word in (yes, no)]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"the judge needs one-token answers; {yes!r} and {no!r} are {ids}")
        self.label_ids = torch.tensor([ids[0][0], ids[1][0]])
        self.layers = model.model.layers

    def _rotary(self, h: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(start, start + h.shape[1]).unsqueeze(0)
        return self.model.model.rotary_emb(h, positions)

    @torch.no_grad()
    def run(self, prefix_h: torch.Tensor, query_h: torch.Tensor, start_layer: int = 0,
            keep: set[int] | None = None,
            pasts: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
            ) -> tuple[torch.Tensor, dict[int, tuple[torch.Tensor, torch.Tensor]]]:
        """Run layers start_layer.. on the prefix (1×P×d) then on the questions (B×T×d, right-padded).

        Returns the final hidden states of the questions and, for layers in `keep`, the hidden
        states entering that layer (prefix, questions) so a later run can start there. With
        `pasts` (from `prefix_keys`), the prefix is not run again.
        """
        keep = keep or set()
        saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        p_len = pasts[start_layer][0].shape[2] if pasts is not None else prefix_h.shape[1]
        q_len = query_h.shape[1]
        p_cos, p_sin = self._rotary(prefix_h, 0)
        q_cos, q_sin = self._rotary(query_h, p_len)
        causal = torch.ones(q_len, q_len, dtype=torch.bool).tril()
        mask = torch.cat([torch.ones(q_len, p_len, dtype=torch.bool), causal], dim=1)
        for index in range(start_layer, len(self.layers)):
            if index in keep:
                saved[index] = (prefix_h, query_h)
            block = self.layers[index]
            if pasts is None:
                prefix_h, past = _attention_layer(block, prefix_h, p_cos, p_sin, None, None)
            else:
                past = pasts[index]
            query_h, _ = _attention_layer(block, query_h, q_cos, q_sin, past, mask)
        return query_h, saved

    @torch.no_grad()
    def prefix_keys(self, prefix: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The keys and values of every layer for the prefix, computed once and reused."""
        return self.prefix_keys_from(self.embed(prefix, [])[0], 0)  # type: ignore[return-value]

    @torch.no_grad()
    def prefix_keys_from(self, prefix_h: torch.Tensor, start_layer: int,
                         inputs: dict[int, torch.Tensor] | None = None) -> list[Any]:
        """Keys and values of layers start_layer.. for a prefix whose hidden states enter
        start_layer (None for the layers below, which a run from start_layer never reads).
        `inputs`, when given, receives the hidden states entering each layer."""
        cos, sin = self._rotary(prefix_h, 0)
        pasts: list[Any] = [None] * start_layer
        for index in range(start_layer, len(self.layers)):
            if inputs is not None:
                inputs[index] = prefix_h
            prefix_h, past = _attention_layer(self.layers[index], prefix_h, cos, sin, None, None)
            pasts.append(past)
        return pasts

    def embed(self, prefix: str, questions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token embeddings of the prefix and of the right-padded questions, and their lengths."""
        prefix_ids = self.tokenizer.encode(prefix, add_special_tokens=False)
        rows = [self.tokenizer.encode(q, add_special_tokens=False) for q in questions]
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        width = int(lengths.max()) if rows else 0
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long).reshape(len(rows), width)
        embed = self.model.model.embed_tokens
        with torch.no_grad():
            return embed(torch.tensor([prefix_ids], dtype=torch.long)), embed(ids), lengths

    @torch.no_grad()
    def margins(self, final_h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """logit(" accepted") − logit(" rejected") at each question's last real token."""
        last = final_h[torch.arange(final_h.shape[0]), lengths - 1]
        last = self.model.model.norm(last)
        weight = self.model.lm_head.weight[self.label_ids]
        logits = last @ weight.T
        return logits[:, 0] - logits[:, 1]

    @torch.no_grad()
    def score(self, pasts: list[tuple[torch.Tensor, torch.Tensor]], questions: Sequence[str],
              batch_size: int = 16) -> list[float]:
        """Margins of every question after a prefix whose keys/values are `pasts`."""
        out: list[float] = []
        for start in range(0, len(questions), batch_size):
            _, query_h, lengths = self.embed("", questions[start:start + batch_size])
            final, _ = self.run(query_h[:1, :0], query_h, pasts=pasts)
            out.extend(self.margins(final, lengths).tolist())
        return out
