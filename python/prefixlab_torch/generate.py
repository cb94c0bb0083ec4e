"""Greedy generation for evalGenerate, as the app's engine/eval/generation.ts + generate.ts produce it: for each
eval/test example, the hand-off's `promptIds` (the prompt as the app's greedy() encodes it) continued by argmax for
at most its `maxNewTokens`, stopping at (and leaving out) any of plan.json's `eosTokenIds`. The app decodes the
ids with its own tokenizer and scores exact match (src/main/services/training/torch-engine/run-torch.ts).

The app left-pads a batch and counts positions over the visible tokens, so each row computes what it would alone;
here prompts of the same length share a batch and nothing is padded, which computes the same thing. The whole
sequence is recomputed each step (no KV cache) so every method's hooks (PT+, Prefix-Tuning's past keys, Prompt
Tuning's virtual tokens) apply exactly as in training.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import torch

from .handoff import Example, HandoffError


def generation_inputs(examples: Sequence[Example], split: str, where: str) -> None:
    """Every example of `split` must carry promptIds and maxNewTokens (a hand-off written with evalGenerate support)."""
    for e in examples:
        if not e.prompt_ids or e.max_new_tokens is None:
            raise HandoffError(f"{where}: {split} example {e.index} ({e.id}) has no promptIds/maxNewTokens; write the hand-off again with this app version")


@torch.no_grad()
def greedy(next_logits: Callable[[torch.Tensor], torch.Tensor], examples: Sequence[Example], eos_ids: Sequence[int], batch_size: int, device) -> List[Dict[str, object]]:
    """[{index, ids}] per example, in the examples' order. `next_logits(ids [B, T])` gives the last position's logits [B, V]."""
    eos = set(int(i) for i in eos_ids)
    out: Dict[int, List[int]] = {}
    by_length: Dict[int, List[Example]] = {}
    for e in examples:
        by_length.setdefault(len(e.prompt_ids), []).append(e)
    for group in by_length.values():
        for start in range(0, len(group), batch_size):
            rows = group[start : start + batch_size]
            outputs: List[List[int]] = [[] for _ in rows]
            limits = [int(e.max_new_tokens) for e in rows]
            active = [r for r in range(len(rows)) if limits[r] > 0]
            while active:
                ids = torch.tensor([rows[r].prompt_ids + outputs[r] for r in active], dtype=torch.long, device=device)
                picked = next_logits(ids).argmax(dim=-1).tolist()  # ties: the lowest id, as the app's argmax
                still = []
                for r, token in zip(active, picked):
                    if token in eos:
                        continue
                    outputs[r].append(int(token))
                    if len(outputs[r]) < limits[r]:
                        still.append(r)
                active = still
            for e, ids in zip(rows, outputs):
                out[e.index] = ids
    return [{"index": e.index, "ids": out[e.index]} for e in examples]
