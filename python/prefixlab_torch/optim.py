"""The app's optimiser semantics in torch: AdamW (torch.optim.AdamW's update, the same as
src/main/engine/train/adamw.ts) with decay on the same tensors (rank > 1 and not exempt; the hand-off's plan
lists the exempt ones), the warm-up + cosine/linear/constant schedule of schedule.ts, and global-norm clipping
as trainer.ts (torch.nn.utils.clip_grad_norm_'s max_norm / (norm + 1e-6)). Moments are saved under the app's
names: exp_avg.<i> and exp_avg_sq.<i> for the i-th trainable tensor, the step count in the metadata."""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch


def lr_at(kind: str, peak: float, total: int, warmup: int, min_ratio: float, step: int) -> float:
    """Rate of optimiser step `step` (0-based), as schedule.ts lrAt."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if kind == "constant":
        return peak
    decay = max(1, total - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / decay))
    low = peak * min_ratio
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if kind == "cosine" else 1 - progress
    return low + (peak - low) * shape


def check_schedule(plan: Dict, rates: Sequence[float], warmup: int) -> None:
    """Our schedule must agree with the one the app computed (schedule.json)."""
    for step, theirs in enumerate(rates):
        ours = lr_at(plan["schedule"], float(plan["learningRate"]), int(plan["totalSteps"]), warmup, float(plan["minLrRatio"]), step)
        if abs(ours - theirs) > 1e-12 * max(1.0, abs(theirs)):
            raise ValueError(f"schedule.json: step {step + 1}'s learning rate is {theirs}, this engine computes {ours}")


class AppAdamW:
    """torch.optim.AdamW over the trainable tensors in the app's order, two groups (decayed, not decayed)."""

    def __init__(self, named: Dict[str, torch.nn.Parameter], plan: Dict):
        self.names: List[str] = list(named)
        self.params = [named[n] for n in self.names]
        exempt = set(plan["noDecay"])
        decayed = [p for n, p in named.items() if p.dim() > 1 and n not in exempt]
        plain = [p for n, p in named.items() if not (p.dim() > 1 and n not in exempt)]
        groups = []
        if decayed:
            groups.append({"params": decayed, "weight_decay": float(plan["weightDecay"])})
        if plain:
            groups.append({"params": plain, "weight_decay": 0.0})
        self.opt = torch.optim.AdamW(groups, lr=float(plan["learningRate"]), betas=(float(plan["beta1"]), float(plan["beta2"])), eps=float(plan["epsilon"]), foreach=False)
        self.clip = float(plan["clipNorm"])

    def grad_norm(self) -> float:
        return float(torch.sqrt(sum((p.grad.detach().float() ** 2).sum() for p in self.params)))

    def step(self, lr: float) -> float:
        """Clips (when clipNorm > 0), sets the rate, updates; returns the norm before clipping."""
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        norm = self.grad_norm()
        if not math.isfinite(norm):
            return norm
        if self.clip > 0:
            scale = min(1.0, self.clip / (norm + 1e-6))
            if scale < 1.0:
                for p in self.params:
                    p.grad.mul_(scale)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return norm

    @property
    def step_count(self) -> int:
        state = self.opt.state.get(self.params[0], {})
        step = state.get("step", 0)
        return int(step.item() if torch.is_tensor(step) else step)

    def state_tensors(self) -> Dict[str, torch.Tensor]:
        out = {}
        for i, p in enumerate(self.params):
            state = self.opt.state.get(p, {})
            out[f"exp_avg.{i}"] = state.get("exp_avg", torch.zeros_like(p)).detach().to("cpu", torch.float32).contiguous()
            out[f"exp_avg_sq.{i}"] = state.get("exp_avg_sq", torch.zeros_like(p)).detach().to("cpu", torch.float32).contiguous()
        return out

    def load_state_tensors(self, tensors: Dict[str, torch.Tensor], step: int, where: str) -> None:
        for i, p in enumerate(self.params):
            for key in ("exp_avg", "exp_avg_sq"):
                if f"{key}.{i}" not in tensors:
                    raise ValueError(f"{where}: tensor {key}.{i} is missing")
            state = self.opt.state[p]
            state["step"] = torch.tensor(float(step))
            state["exp_avg"] = tensors[f"exp_avg.{i}"].to(p.device, p.dtype).clone()
            state["exp_avg_sq"] = tensors[f"exp_avg_sq.{i}"].to(p.device, p.dtype).clone()
