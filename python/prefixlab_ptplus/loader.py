"""Attach a PrefixLab Prefix-Tuning+ export (peft_type "PREFIX_TUNING_PLUS") to a Hugging Face transformers
causal LM for inference.

Prefix-Tuning+ (arXiv 2506.13674) adds, per adapted layer and query head h, the term phi(q)^T M_h to the
head's attention output before the output projection. This module does that with three hooks per layer,
leaving the model's own code and KV cache untouched:

* (query_rope "post" only) the attention module's forward is wrapped to keep the rotary (cos, sin) the layer
  receives, to rotate the query exactly as the layer does (a kwargs pre-hook would need torch >= 2.0);
* a forward hook on the query projection (q_proj; GPT-2's fused c_attn; GPT-NeoX's fused query_key_value;
  Phi-3's fused qkv_proj) computes the term from the query of the new tokens (Qwen3 and Gemma 3: after the
  layer's own per-head q_norm, as the layer itself uses it);
* a forward pre-hook on the output projection (o_proj, c_proj, dense) adds it to the merged head outputs.

The tensors become attributes of each attention module (``ptplus_memory``, ``ptplus_phi``,
``ptplus_phi_mean``, ``ptplus_log_normaliser``), so ``model.to(...)`` moves them and
``model.state_dict()`` names them as the export file does, minus ``base_model.model.``.
Supported families: LLaMA, Mistral, Qwen2, Qwen3, Gemma 3, Phi-3 (model.layers.{i}.self_attn), GPT-2
(transformer.h.{i}.attn), GPT-NeoX (gpt_neox.layers.{i}.attention).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

PEFT_TYPE = "PREFIX_TUNING_PLUS"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
_PREFIX = "base_model.model."
_FEATURE_MAPS = ("elu", "elu+1", "gelu", "mlp")
_LLAMA_FAMILY = ("llama", "mistral", "qwen2")
_QUERY_NORM_FAMILY = ("qwen3", "gemma3_text")


@dataclass
class PtPlusConfig:
    """The fields of adapter_config.json that decide the forward pass."""

    feature_map: str = "elu"
    phi_dim: int = 0
    query_rope: str = "pre"
    per_head: bool = True
    variant: str = "plain"
    lam: Optional[float] = None
    phi_center: str = "none"
    layers: List[int] = field(default_factory=list)
    num_layers: int = 0
    num_attention_heads: int = 0
    head_dim: int = 0
    model_type: str = ""
    base_model_name_or_path: Optional[str] = None

    @classmethod
    def from_dict(cls, raw: Dict[str, Any], where: str = CONFIG_FILE) -> "PtPlusConfig":
        if raw.get("peft_type") != PEFT_TYPE:
            raise ValueError(f"{where}: peft_type is {raw.get('peft_type')!r}, expected {PEFT_TYPE!r}")
        cfg = cls(
            feature_map=raw.get("feature_map", "elu"),
            phi_dim=int(raw.get("phi_dim") or raw.get("head_dim") or 0),
            query_rope=raw.get("query_rope", "pre"),
            per_head=bool(raw.get("per_head", True)),
            variant=raw.get("variant", "plain"),
            lam=raw.get("lambda"),
            phi_center=raw.get("phi_center", "none"),
            layers=list(raw.get("layers") or range(int(raw.get("num_layers", 0)))),
            num_layers=int(raw.get("num_layers", 0)),
            num_attention_heads=int(raw.get("num_attention_heads", 0)),
            head_dim=int(raw.get("head_dim", 0)),
            model_type=raw.get("model_type", ""),
            base_model_name_or_path=raw.get("base_model_name_or_path"),
        )
        if cfg.feature_map not in _FEATURE_MAPS:
            raise ValueError(f"{where}: feature_map {cfg.feature_map!r} is not one of {_FEATURE_MAPS}")
        if cfg.query_rope not in ("pre", "post"):
            raise ValueError(f"{where}: query_rope must be 'pre' or 'post', got {cfg.query_rope!r}")
        if cfg.variant not in ("plain", "normalised"):
            raise ValueError(f"{where}: variant must be 'plain' or 'normalised', got {cfg.variant!r}")
        if cfg.variant == "normalised" and not cfg.lam:
            raise ValueError(f"{where}: the normalised variant needs lambda")
        return cfg


# ---- family layout ----


@dataclass
class _Family:
    """Where a family keeps its query and output projections, relative to the attention module."""

    query: str
    output: str
    # Takes the query projection's output [B, T, *] and returns the queries [B, H, T, d].
    split_query: Any
    # The attention module's per-head norm applied to the queries before RoPE (Qwen3, Gemma 3), if any.
    query_norm: Optional[str] = None


def _family(model_type: str, heads: int, head_dim: int) -> _Family:
    def from_q_proj(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out.view(b, t, heads, head_dim).transpose(1, 2)  # [B, H, T, d]

    def from_c_attn(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out[..., : heads * head_dim].reshape(b, t, heads, head_dim).transpose(1, 2)  # [B, H, T, d]

    def from_query_key_value(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out.view(b, t, heads, 3 * head_dim)[..., :head_dim].transpose(1, 2)  # [B, H, T, d]

    def from_qkv_proj(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out[..., : heads * head_dim].reshape(b, t, heads, head_dim).transpose(1, 2)  # [B, H, T, d]

    if model_type in _LLAMA_FAMILY:
        return _Family("q_proj", "o_proj", from_q_proj)
    if model_type in _QUERY_NORM_FAMILY:
        return _Family("q_proj", "o_proj", from_q_proj, query_norm="q_norm")
    if model_type == "phi3":
        return _Family("qkv_proj", "o_proj", from_qkv_proj)
    if model_type == "gpt2":
        return _Family("c_attn", "c_proj", from_c_attn)
    if model_type == "gpt_neox":
        return _Family("query_key_value", "dense", from_query_key_value)
    raise ValueError(f"model_type {model_type!r} is not supported (supported: {', '.join(_LLAMA_FAMILY + _QUERY_NORM_FAMILY)}, phi3, gpt2, gpt_neox)")


def _same_family(a: str, b: str) -> bool:
    return a == b or (a in _LLAMA_FAMILY and b in _LLAMA_FAMILY)


# ---- the per-layer term ----


class _LayerState:
    """Hooks and scratch of one adapted attention module."""

    def __init__(self, attn: nn.Module, cfg: PtPlusConfig, family: _Family, heads: int, head_dim: int, has_rope: bool):
        self.attn = attn
        self.has_rope = has_rope
        self.cfg = cfg
        self.family = family
        self.heads = heads
        self.head_dim = head_dim
        self.rotary: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        self.term: Optional[torch.Tensor] = None
        self.handles: List[Any] = []
        self.rotate = getattr(sys.modules[type(attn).__module__], "apply_rotary_pos_emb", None)

    def features(self, query: torch.Tensor) -> torch.Tensor:
        """phi(q) [B, H, T, d_phi], centred when the export carries a mean."""
        fm = self.cfg.feature_map
        if fm == "elu":
            phi = F.elu(query)
        elif fm == "elu+1":
            phi = F.elu(query) + 1
        elif fm == "gelu":
            phi = F.gelu(query)  # exact (erf) GELU, as the app's
        else:
            phi = F.relu(self.attn.ptplus_phi(query))
        mean = getattr(self.attn, "ptplus_phi_mean", None)
        if mean is not None:
            phi = phi - mean.to(phi.dtype)[None, :, None, :]  # [H, d_phi] -> [1, H, 1, d_phi]
        return phi

    def compute(self, query: torch.Tensor) -> torch.Tensor:
        """The term added to the merged head outputs: [B, T, H*d]."""
        if self.cfg.query_rope == "post" and self.has_rope:
            if self.rotate is None:
                raise RuntimeError(f"{type(self.attn).__module__} has no apply_rotary_pos_emb; use a query_rope 'pre' export")
            cos, sin = self.rotary
            query, _ = self.rotate(query, query, cos, sin)
        phi = self.features(query)  # [B, H, T, d_phi]
        memory = self.attn.ptplus_memory.to(phi.dtype)
        b, h, t, _ = phi.shape
        if self.cfg.per_head:
            term = torch.einsum("bhtf,hfd->bhtd", phi, memory)  # [B, H, T, d]
            log_n = getattr(self.attn, "ptplus_log_normaliser", None)
            if log_n is not None:
                denominator = (phi * log_n.to(phi.dtype).exp()[None, :, None, :]).sum(-1, keepdim=True)  # [B, H, T, 1]
                lam = float(self.cfg.lam)
                term = term / denominator * ((1 - lam) / lam)
            return term.transpose(1, 2).reshape(b, t, h * self.head_dim)  # [B, T, H*d]
        merged = phi.transpose(1, 2).reshape(b, t, -1)  # [B, T, H*d_phi]
        return merged @ memory  # [B, T, H*d]

    # hooks

    def wrap_attention(self) -> None:
        """Wraps the attention forward to keep the (cos, sin) it receives; undone by unwrap_attention."""
        original = self.attn.forward

        def forward(*args, **kwargs):
            rotary = kwargs.get("position_embeddings")
            if rotary is None:
                raise RuntimeError(
                    "this transformers version does not pass position_embeddings to attention modules; "
                    "post-RoPE PT+ exports need transformers >= 4.48"
                )
            self.rotary = rotary
            try:
                return original(*args, **kwargs)
            finally:
                self.rotary = None

        self.attn.forward = forward

    def unwrap_attention(self) -> None:
        if "forward" in vars(self.attn):
            del self.attn.forward

    def after_query(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        query = self.family.split_query(output)  # [B, H, T, d]
        if self.family.query_norm:
            query = getattr(self.attn, self.family.query_norm)(query)  # an RMSNorm over d, as the layer applies it
        self.term = self.compute(query)

    def before_output(self, module: nn.Module, args: tuple):
        term, self.term = self.term, None
        if term is None:
            return None
        (hidden, *rest) = args
        mixed = hidden + term.to(hidden.dtype)
        if self.cfg.variant == "normalised":
            mixed = mixed * float(self.cfg.lam)  # W_O(lam*attn + (1-lam)*X), matching the app
        return (mixed, *rest)


# ---- public API ----


def read_ptplus(adapter_dir: str) -> Tuple[PtPlusConfig, Dict[str, torch.Tensor]]:
    """Reads adapter_config.json and the tensors of a PT+ export folder."""
    from safetensors.torch import load_file

    config_path = os.path.join(adapter_dir, CONFIG_FILE)
    with open(config_path, "r", encoding="utf-8") as fh:
        cfg = PtPlusConfig.from_dict(json.load(fh), config_path)
    return cfg, load_file(os.path.join(adapter_dir, WEIGHTS_FILE))


_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.(?P<name>ptplus_memory|ptplus_phi\.weight|ptplus_phi\.bias|ptplus_phi_mean|ptplus_log_normaliser)$")


def load_ptplus(model: nn.Module, adapter_dir: str) -> nn.Module:
    """Attaches the PT+ export in ``adapter_dir`` to ``model`` (in place) and returns the model.

    Raises ValueError when the export does not fit the model (family, heads, head size, tensor shapes).
    Call ``detach_ptplus(model)`` to restore the base model.
    """
    cfg, tensors = read_ptplus(adapter_dir)
    model_type = getattr(model.config, "model_type", "")
    if cfg.model_type and not _same_family(cfg.model_type, model_type):
        raise ValueError(f"the export is for a {cfg.model_type} model but this model is {model_type}")
    heads = int(getattr(model.config, "num_attention_heads", None) or getattr(model.config, "n_head"))
    hidden = int(getattr(model.config, "hidden_size", None) or getattr(model.config, "n_embd"))
    head_dim = int(getattr(model.config, "head_dim", None) or hidden // heads)
    if heads != cfg.num_attention_heads or head_dim != cfg.head_dim:
        raise ValueError(
            f"the export has {cfg.num_attention_heads} heads of size {cfg.head_dim}, the model {heads} of size {head_dim}"
        )
    family = _family(model_type, heads, head_dim)
    detach_ptplus(model)

    grouped: Dict[str, Dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        match = _KEY.match(key)
        if not match:
            raise ValueError(f"{WEIGHTS_FILE}: unexpected tensor {key}")
        grouped.setdefault(match["module"], {})[match["name"]] = value

    reference = next(model.parameters())
    states: List[_LayerState] = []
    for module_path, parts in sorted(grouped.items()):
        if "ptplus_memory" not in parts:
            raise ValueError(f"{WEIGHTS_FILE}: {module_path} has no ptplus_memory")
        try:
            attn = model.get_submodule(module_path)
        except AttributeError as err:
            raise ValueError(f"the model has no module {module_path} (is this the right base model?)") from err
        memory = parts["ptplus_memory"]
        expected = (heads, cfg.phi_dim, head_dim) if cfg.per_head else (heads * cfg.phi_dim, heads * head_dim)
        if tuple(memory.shape) != expected:
            raise ValueError(f"{module_path}.ptplus_memory has shape {tuple(memory.shape)}, expected {expected}")
        to_model = dict(device=reference.device, dtype=reference.dtype)
        attn.ptplus_memory = nn.Parameter(memory.to(**to_model), requires_grad=False)
        if cfg.feature_map == "mlp":
            weight = parts.get("ptplus_phi.weight")
            bias = parts.get("ptplus_phi.bias")
            if weight is None or bias is None:
                raise ValueError(f"{WEIGHTS_FILE}: the mlp kernel of {module_path} is missing")
            phi = nn.Linear(weight.shape[1], weight.shape[0]).to(**to_model)
            with torch.no_grad():
                phi.weight.copy_(weight)
                phi.bias.copy_(bias)
            phi.requires_grad_(False)
            attn.ptplus_phi = phi
        if "ptplus_phi_mean" in parts:
            attn.register_buffer("ptplus_phi_mean", parts["ptplus_phi_mean"].to(**to_model))
        elif cfg.phi_center == "data-mean":
            raise ValueError(f"{WEIGHTS_FILE}: phi_center is data-mean but {module_path} has no ptplus_phi_mean")
        if "ptplus_log_normaliser" in parts:
            attn.ptplus_log_normaliser = nn.Parameter(parts["ptplus_log_normaliser"].to(**to_model), requires_grad=False)

        state = _LayerState(attn, cfg, family, heads, head_dim, has_rope=model_type != "gpt2")
        if cfg.query_rope == "post" and state.has_rope:
            state.wrap_attention()
        state.handles.append(attn.get_submodule(family.query).register_forward_hook(state.after_query))
        state.handles.append(attn.get_submodule(family.output).register_forward_pre_hook(state.before_output))
        states.append(state)

    model._ptplus_states = states
    model._ptplus_config = cfg
    return model


def detach_ptplus(model: nn.Module) -> nn.Module:
    """Removes an attached PT+ adapter (hooks and tensors); the model is the base model again."""
    for state in getattr(model, "_ptplus_states", []):
        for handle in state.handles:
            handle.remove()
        state.unwrap_attention()
        for name in ("ptplus_memory", "ptplus_phi", "ptplus_phi_mean", "ptplus_log_normaliser"):
            if hasattr(state.attn, name):
                delattr(state.attn, name)
    model._ptplus_states = []
    model._ptplus_config = None
    return model
