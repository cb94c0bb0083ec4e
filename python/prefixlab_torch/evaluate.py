"""Evaluation as the app's classify.ts: the scoring sequences the hand-off lists (scoring.jsonl,
scoring-sequences.jsonl, labels.json) are scored once each; eval loss = mean NLL per target token of the
examples' own targets; with classification, the label whose verbalisation has the highest mean log-prob per
token wins (ties: the first label)."""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Optional

import torch

from .handoff import handoff_file, read_json, read_jsonl


class Scoring:
    def __init__(self, folder: str):
        self.rows: Dict[str, List[Dict[str, Any]]] = {}
        self.sequences: List[Dict[str, List[int]]] = []
        self.labels: Dict[str, Dict[str, Any]] = {}
        if not os.path.exists(os.path.join(folder, "scoring.jsonl")):
            return
        self.sequences = [raw for _, raw in read_jsonl(handoff_file(folder, "scoring-sequences.jsonl"))]
        for _, raw in read_jsonl(handoff_file(folder, "scoring.jsonl")):
            self.rows.setdefault(raw["split"], []).append(raw)
        self.labels = read_json(folder, "labels.json")

    def splits(self) -> List[str]:
        return list(self.rows)


def _collate(seqs: List[Dict[str, List[int]]], pad_id: int, device):
    width = max(len(s["inputIds"]) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    for row, s in enumerate(seqs):
        n = len(s["inputIds"])
        ids[row, :n] = torch.tensor(s["inputIds"])
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(s["labels"])
    return ids.to(device), mask.to(device), labels.to(device)


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[B, T, V], [B, T] (HF-aligned, -100 = not scored) -> [B, T-1] NLL of each scored next token (0 elsewhere)."""
    shifted = labels[:, 1:]
    scores = logits[:, :-1]
    logp = torch.log_softmax(scores if scores.dtype in (torch.float32, torch.float64) else scores.float(), dim=-1)
    picked = logp.gather(-1, shifted.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(shifted != -100, -picked, torch.zeros_like(picked))


@torch.no_grad()
def score_all(attached, sequences: List[Dict[str, List[int]]], indices: List[int], pad_id: int, batch_size: int, device) -> Dict[int, Dict[str, float]]:
    """sequence index -> {sumLogProb, tokens}; sequences batched by length as score.ts (results do not depend on it)."""
    order = sorted(set(indices), key=lambda i: (len(sequences[i]["inputIds"]), i))
    out: Dict[int, Dict[str, float]] = {}
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask, labels = _collate([sequences[i] for i in chunk], pad_id, device)
        nll = token_nll(attached.logits(ids, mask), labels)
        counts = (labels[:, 1:] != -100).sum(-1)
        for row, i in enumerate(chunk):
            out[i] = {"sumLogProb": -float(nll[row].double().sum()), "tokens": int(counts[row])}
    return out


def evaluate(attached, scoring: Scoring, split: str, pad_id: int, batch_size: int, device) -> Optional[Dict[str, Any]]:
    rows = scoring.rows.get(split)
    if not rows:
        return None
    info = scoring.labels.get(split, {"labels": [], "classification": False})
    wanted = [r["own"] for r in rows] + [c for r in rows for c in r.get("candidates", [])]
    scores = score_all(attached, scoring.sequences, wanted, pad_id, batch_size, device)
    nll = -sum(scores[r["own"]]["sumLogProb"] for r in rows)
    tokens = sum(scores[r["own"]]["tokens"] for r in rows)
    report: Dict[str, Any] = {"evalLoss": nll / tokens if tokens else float("nan"), "examples": len(rows), "accuracy": None}
    if info.get("classification"):
        labels = info["labels"]
        confusion = [[0] * len(labels) for _ in labels]
        correct = 0
        for r in rows:
            means = [scores[c]["sumLogProb"] / scores[c]["tokens"] if scores[c]["tokens"] else -math.inf for c in r["candidates"]]
            best = 0
            for c in range(1, len(means)):
                if means[c] > means[best]:
                    best = c
            truth = r.get("truth")
            if truth is None:
                continue
            confusion[truth][best] += 1
            correct += int(best == truth)
        report.update(accuracy=correct / len(rows), labels=labels, confusion=confusion)
    return report
