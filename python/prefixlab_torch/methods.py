"""The run's method attached to a transformers causal LM, its trainable tensors under the app's state-dict names.

LoRA, Prefix-Tuning and Prompt Tuning are PEFT's own (get_peft_model); the app's names map one to one onto
PEFT's (PEFT inserts the adapter name, "default"). Prefix-Tuning+ is a module here, grown from
python/prefixlab_ptplus/loader.py (same hooks: the query projection's output feeds phi, the output projection's
input gets phi(q)^T M), with trainable tensors. Full fine-tuning trains the model's own weights.
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

_LLAMA_FAMILY = ("llama", "mistral", "qwen2", "qwen3", "gemma3_text")


class Attached:
    """The model to run, the trainable tensors (app names, plan order) and every tensor the adapter saves."""

    def __init__(self, module: nn.Module, params: "OrderedDict[str, nn.Parameter]", saved: Dict[str, torch.Tensor], virtual_input_tokens: int, forward_kwargs: Dict[str, Any]):
        self.module = module
        self.params = params
        self.saved = saved
        self.virtual_input_tokens = virtual_input_tokens
        self.forward_kwargs = forward_kwargs

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, T, V] logits of the real tokens (Prompt Tuning's virtual positions dropped)."""
        out = self.module(input_ids=input_ids, attention_mask=attention_mask, **self.forward_kwargs).logits
        return out[:, self.virtual_input_tokens :] if self.virtual_input_tokens else out

    def state_dict(self) -> "OrderedDict[str, torch.Tensor]":
        """The adapter's tensors as the app's adapter.safetensors names them (float32, contiguous, on the CPU)."""
        return OrderedDict((name, t.detach().to("cpu", torch.float32).contiguous().clone()) for name, t in self.saved.items())

    def load_state_dict(self, tensors: Dict[str, torch.Tensor], where: str) -> None:
        for name, target in self.saved.items():
            if name not in tensors:
                raise ValueError(f"{where}: tensor {name} is missing")
            value = tensors[name]
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{where}: tensor {name} has shape {tuple(value.shape)}, expected {tuple(target.shape)}")
            with torch.no_grad():
                target.copy_(value.to(target.dtype))


def _bind(module: nn.Module, init: Dict[str, torch.Tensor], names: Dict[str, str], trainable: List[str], where: str) -> Tuple["OrderedDict[str, nn.Parameter]", Dict[str, torch.Tensor]]:
    """Maps app name -> module parameter name, checks shapes, copies the initial values, freezes everything else."""
    own = dict(module.named_parameters())
    saved: Dict[str, torch.Tensor] = OrderedDict()
    for ours, theirs in names.items():
        if theirs not in own:
            raise ValueError(f"{where}: {ours} has no counterpart {theirs} in the model")
        saved[ours] = own[theirs]
    for p in module.parameters():
        p.requires_grad_(False)
    params: "OrderedDict[str, nn.Parameter]" = OrderedDict()
    for name in trainable:
        if name not in saved:
            raise ValueError(f"{where}: trainable tensor {name} is not one of the adapter's")
        saved[name].requires_grad_(True)
        params[name] = saved[name]  # type: ignore[assignment]
    attached = Attached(module, params, saved, 0, {})
    attached.load_state_dict(init, where)
    return params, saved


# ---- PEFT methods ----


def _peft_names(init: Dict[str, torch.Tensor], method: str) -> Dict[str, str]:
    names = {}
    for ours in init:
        if method == "lora":
            theirs = re.sub(r"\.(lora_[AB])\.weight$", r".\1.default.weight", ours)
        elif method == "prefix":
            theirs = ours.replace("prompt_encoder.", "prompt_encoder.default.", 1)
        else:  # prompt
            theirs = "prompt_encoder.default.embedding.weight" if ours == "prompt_embeddings" else ours
        names[ours] = theirs
    return names


def _lora_targets(targets: Any) -> Any:
    if targets == "default":
        return None  # PEFT's own per-family defaults, which the app's DEFAULT_LORA_TARGETS copies
    return targets


def attach(model: nn.Module, method: str, options: Dict[str, Any], init: Dict[str, torch.Tensor], trainable: List[str], where: str = "init.safetensors") -> Attached:
    model_type = getattr(model.config, "model_type", "")
    if method in ("lora", "prefix", "prompt"):
        import peft

        if method == "lora":
            config = peft.LoraConfig(
                task_type="CAUSAL_LM",
                r=int(options["rank"]),
                lora_alpha=float(options["alpha"]),
                lora_dropout=float(options["dropout"]),
                use_rslora=bool(options["rsLora"]),
                target_modules=_lora_targets(options["targets"]),
                fan_in_fan_out=model_type == "gpt2",
                bias="none",
            )
        elif method == "prefix":
            config = peft.PrefixTuningConfig(
                task_type="CAUSAL_LM",
                num_virtual_tokens=int(options["numVirtualTokens"]),
                prefix_projection=bool(options["projection"]),
                encoder_hidden_size=options.get("encoderHiddenSize") or _kv_token_dim(model.config),
            )
        else:
            config = peft.PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=int(options["numVirtualTokens"]), prompt_tuning_init="RANDOM")
        wrapped = peft.get_peft_model(model, config)
        params, saved = _bind(wrapped, init, _peft_names(init, method), trainable, where)
        virtual = int(options["numVirtualTokens"]) if method == "prompt" else 0
        return Attached(wrapped, params, saved, virtual, {} if method in ("prefix", "prompt") else {"use_cache": False})
    if method == "full":
        names = {name: name for name in init}
        params, saved = _bind(model, init, names, trainable, where)
        return Attached(model, params, saved, 0, {"use_cache": False})
    if method == "ptplus":
        return _attach_ptplus(model, options, init, trainable, where)
    raise ValueError(f"method {method!r} is not supported by the torch engine (lora, prefix, prompt, ptplus, full)")


def _kv_token_dim(config: Any) -> int:
    heads = int(getattr(config, "num_attention_heads", None) or getattr(config, "n_head"))
    hidden = int(getattr(config, "hidden_size", None) or getattr(config, "n_embd"))
    head_dim = int(getattr(config, "head_dim", None) or hidden // heads)
    kv = int(getattr(config, "num_key_value_heads", None) or heads)
    return head_dim * kv


# ---- Prefix-Tuning+ ----

_PTPLUS_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.(?P<name>ptplus_memory|ptplus_phi\.weight|ptplus_phi\.bias|ptplus_phi_mean|ptplus_log_normaliser)$")


def _query_split(model_type: str, heads: int, head_dim: int) -> Tuple[str, str, Callable[[torch.Tensor], torch.Tensor]]:
    """(query projection, output projection, query projection output [B, T, *] -> queries [B, H, T, d])."""

    def q_proj(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out.view(b, t, heads, head_dim).transpose(1, 2)

    def c_attn(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out[..., : heads * head_dim].reshape(b, t, heads, head_dim).transpose(1, 2)

    def query_key_value(out: torch.Tensor) -> torch.Tensor:
        b, t, _ = out.shape
        return out.view(b, t, heads, 3 * head_dim)[..., :head_dim].transpose(1, 2)

    if model_type in _LLAMA_FAMILY:
        return "q_proj", "o_proj", q_proj
    if model_type == "gpt2":
        return "c_attn", "c_proj", c_attn
    if model_type == "gpt_neox":
        return "query_key_value", "dense", query_key_value
    raise ValueError(f"Prefix-Tuning+ on model_type {model_type!r} is not supported by the torch engine (llama, mistral, qwen2, gpt2, gpt_neox)")


class PtPlusLayer(nn.Module):
    """One adapted attention module's PT+ tensors and the term phi(q)^T M it adds before W_O."""

    def __init__(self, attn: nn.Module, options: Dict[str, Any], heads: int, head_dim: int, split: Callable, has_rope: bool, tensors: Dict[str, torch.Tensor]):
        super().__init__()
        self.options = options
        self.heads = heads
        self.head_dim = head_dim
        self.split = split
        self.has_rope = has_rope
        self.memory = nn.Parameter(torch.zeros_like(tensors["ptplus_memory"]))
        self.phi = None
        if options["featureMap"] == "mlp":
            w = tensors["ptplus_phi.weight"]
            self.phi = nn.Linear(w.shape[1], w.shape[0])
        self.log_normaliser = nn.Parameter(torch.zeros_like(tensors["ptplus_log_normaliser"])) if "ptplus_log_normaliser" in tensors else None
        if "ptplus_phi_mean" in tensors:
            self.register_buffer("phi_mean", torch.zeros_like(tensors["ptplus_phi_mean"]))
        else:
            self.phi_mean = None
        self.rotate = getattr(sys.modules[type(attn).__module__], "apply_rotary_pos_emb", None)
        self.rotary: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        self.term: Optional[torch.Tensor] = None

    def compute(self, query: torch.Tensor) -> torch.Tensor:
        """[B, H, T, d] queries -> the term added to W_O's input, [B, T, H*d]."""
        if self.options["queryRope"] == "post" and self.has_rope:
            cos, sin = self.rotary
            query, _ = self.rotate(query, query, cos, sin)
        fm = self.options["featureMap"]
        if fm == "elu":
            phi = F.elu(query)
        elif fm == "elu+1":
            phi = F.elu(query) + 1
        elif fm == "gelu":
            phi = F.gelu(query)
        else:
            phi = F.relu(self.phi(query))
        if self.phi_mean is not None:
            phi = phi - self.phi_mean[None, :, None, :]
        b, h, t, _ = phi.shape
        if self.options["memory"] == "per-head":
            term = torch.einsum("bhtf,hfd->bhtd", phi, self.memory)  # [B, H, T, d]
            if self.log_normaliser is not None:
                denominator = (phi * self.log_normaliser.exp()[None, :, None, :]).sum(-1, keepdim=True)
                lam = float(self.options["lambda"])
                term = term / denominator * ((1 - lam) / lam)
            return term.transpose(1, 2).reshape(b, t, h * self.head_dim)
        return phi.transpose(1, 2).reshape(b, t, -1) @ self.memory  # [B, T, H*d]


def _attach_ptplus(model: nn.Module, options: Dict[str, Any], init: Dict[str, torch.Tensor], trainable: List[str], where: str) -> Attached:
    cfg = model.config
    model_type = cfg.model_type
    heads = int(getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_head"))
    hidden = int(getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd"))
    head_dim = int(getattr(cfg, "head_dim", None) or hidden // heads)
    query_name, output_name, split = _query_split(model_type, heads, head_dim)
    grouped: Dict[str, Dict[str, torch.Tensor]] = OrderedDict()
    for key, value in init.items():
        match = _PTPLUS_KEY.match(key)
        if not match:
            raise ValueError(f"{where}: unexpected tensor {key} for Prefix-Tuning+")
        grouped.setdefault(match["module"], {})[match["name"]] = value
    for p in model.parameters():
        p.requires_grad_(False)
    layers = nn.ModuleDict()
    names: Dict[str, Tuple[nn.Module, str]] = OrderedDict()
    for module_path, parts in grouped.items():
        attn = model.get_submodule(module_path)
        layer = PtPlusLayer(attn, options, heads, head_dim, split, has_rope=model_type != "gpt2", tensors=parts)
        layers[module_path.replace(".", "_")] = layer
        root = f"base_model.model.{module_path}"
        names[f"{root}.ptplus_memory"] = layer.memory
        if layer.phi is not None:
            names[f"{root}.ptplus_phi.weight"] = layer.phi.weight
            names[f"{root}.ptplus_phi.bias"] = layer.phi.bias
        if layer.log_normaliser is not None:
            names[f"{root}.ptplus_log_normaliser"] = layer.log_normaliser
        if layer.phi_mean is not None:
            names[f"{root}.ptplus_phi_mean"] = layer.phi_mean

        def after_query(module, args, output, layer=layer):
            layer.term = layer.compute(layer.split(output))

        def before_output(module, args, layer=layer):
            term, layer.term = layer.term, None
            if term is None:
                return None
            hidden_in, *rest = args
            mixed = hidden_in + term.to(hidden_in.dtype)
            if layer.options["variant"] == "normalised":
                mixed = mixed * float(layer.options["lambda"])
            return (mixed, *rest)

        if options["queryRope"] == "post" and layer.has_rope:
            original = attn.forward

            def forward(*args, _original=original, layer=layer, **kwargs):
                layer.rotary = kwargs.get("position_embeddings")
                if layer.rotary is None:
                    raise RuntimeError("this transformers version does not pass position_embeddings; query_rope 'post' needs transformers >= 4.48")
                try:
                    return _original(*args, **kwargs)
                finally:
                    layer.rotary = None

            attn.forward = forward
        attn.get_submodule(query_name).register_forward_hook(after_query)
        attn.get_submodule(output_name).register_forward_pre_hook(before_output)
    # The PT+ modules hang off the model, so .to(), DDP and state_dict see them.
    model.ptplus_layers = layers
    saved: Dict[str, torch.Tensor] = OrderedDict((k, v) for k, v in names.items())
    for name, tensor in saved.items():
        if isinstance(tensor, nn.Parameter):
            tensor.requires_grad_(name in trainable)
    params: "OrderedDict[str, nn.Parameter]" = OrderedDict()
    for name in trainable:
        if name not in saved:
            raise ValueError(f"{where}: trainable tensor {name} is not one of the adapter's")
        params[name] = saved[name]  # type: ignore[assignment]
    attached = Attached(model, params, saved, 0, {"use_cache": False})
    attached.load_state_dict(init, where)
    return attached
