"""Reads a hand-off folder written by the app (src/main/engine/torch/handoff.ts). Every problem is one
HandoffError line naming the file (and the field or line where there is one)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

# Bounded reads: a hand-off is small (the encoded examples of one run); anything bigger is not one.
_MAX_JSON_BYTES = 256 * 1024 * 1024


class HandoffError(ValueError):
    """A hand-off file is missing or damaged; the message names the file."""


@dataclass
class Example:
    index: int
    id: str
    split: str
    input_ids: List[int]
    labels: List[int]
    label: Any = None
    # evalGenerate (eval/test examples): the prompt as the app's greedy generation encodes it, and its token budget.
    prompt_ids: Optional[List[int]] = None
    max_new_tokens: Optional[int] = None

    @property
    def target_tokens(self) -> int:
        """Positions that count in the loss: labels[t] for t >= 1 that are not -100."""
        return sum(1 for v in self.labels[1:] if v != -100)


@dataclass
class Handoff:
    dir: str
    runspec: Dict[str, Any]
    model: Dict[str, Any]
    plan: Dict[str, Any]
    train: List[Example]
    eval: List[Example]
    test: List[Example]
    steps: List[List[List[int]]]
    batches_per_epoch: int
    learning_rates: List[float]
    eval_every: int
    init_path: str

    @property
    def method(self) -> str:
        return self.runspec["method"]["name"]

    @property
    def method_options(self) -> Dict[str, Any]:
        return self.plan["methodOptions"]

    @property
    def total_steps(self) -> int:
        return int(self.plan["totalSteps"])


def read_jsonl(path: str) -> Iterator[Tuple[int, Any]]:
    """(line number, value) for each non-blank line of a hand-off JSON Lines file; bad JSON names the file and line."""
    with open(path, "r", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise HandoffError(f"{path}:{number}: not valid JSON ({err})") from None


def handoff_file(folder: str, name: str) -> str:
    """The path of a hand-off file that must exist (and be of hand-off size)."""
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise HandoffError(f"{path}: missing (write the hand-off with the app's writeTorchHandoff)")
    if os.path.getsize(path) > _MAX_JSON_BYTES:
        raise HandoffError(f"{path}: larger than {_MAX_JSON_BYTES} bytes; not a hand-off file")
    return path


def read_json(folder: str, name: str) -> Any:
    path = handoff_file(folder, name)
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as err:
        raise HandoffError(f"{path}: not valid JSON ({err})") from None


def _field(value: Dict[str, Any], key: str, path: str) -> Any:
    if not isinstance(value, dict) or key not in value:
        raise HandoffError(f"{path}: field {key!r} is missing")
    return value[key]


def read_handoff(folder: str) -> Handoff:
    folder = os.path.abspath(folder)
    if not os.path.isdir(folder):
        raise HandoffError(f"{folder}: the hand-off folder does not exist")
    runspec = read_json(folder, "runspec.json")
    model = read_json(folder, "model.json")
    plan = read_json(folder, "plan.json")
    batches = read_json(folder, "batches.json")
    schedule = read_json(folder, "schedule.json")
    for key in ("path", "format"):
        _field(model, key, os.path.join(folder, "model.json"))
    for key in ("totalSteps", "gradAccumulation", "methodOptions", "trainable", "noDecay", "padId"):
        _field(plan, key, os.path.join(folder, "plan.json"))
    _field(_field(runspec, "method", os.path.join(folder, "runspec.json")), "name", os.path.join(folder, "runspec.json"))

    examples_path = handoff_file(folder, "examples.jsonl")
    splits: Dict[str, List[Example]] = {"train": [], "eval": [], "test": []}
    for number, raw in read_jsonl(examples_path):
        try:
            ex = Example(int(raw["index"]), str(raw["id"]), raw["split"], [int(v) for v in raw["inputIds"]], [int(v) for v in raw["labels"]], raw.get("label"))
            if "promptIds" in raw:
                ex.prompt_ids = [int(v) for v in raw["promptIds"]]
                ex.max_new_tokens = int(raw["maxNewTokens"])
        except (KeyError, TypeError, ValueError) as err:
            raise HandoffError(f"{examples_path}:{number}: not an encoded example ({type(err).__name__}: {err})") from None
        if ex.split not in splits:
            raise HandoffError(f"{examples_path}:{number}: split {ex.split!r} is not train, eval or test")
        if len(ex.input_ids) != len(ex.labels):
            raise HandoffError(f"{examples_path}:{number}: inputIds and labels differ in length")
        splits[ex.split].append(ex)
    for name, items in splits.items():
        if [e.index for e in items] != list(range(len(items))):
            raise HandoffError(f"{examples_path}: the {name} examples' indices are not 0..{len(items) - 1} in order")

    steps = _field(batches, "steps", os.path.join(folder, "batches.json"))
    total = int(plan["totalSteps"])
    if len(steps) != total:
        raise HandoffError(f"{os.path.join(folder, 'batches.json')}: {len(steps)} steps planned, the run has {total}")
    for s, micro in enumerate(steps, 1):
        if len(micro) != int(plan["gradAccumulation"]) or any(not (0 <= i < len(splits["train"])) for b in micro for i in b):
            raise HandoffError(f"{os.path.join(folder, 'batches.json')}: step {s}'s batches do not fit the plan (gradAccumulation, example indices)")
    rates = [float(v) for v in _field(schedule, "learningRates", os.path.join(folder, "schedule.json"))]
    if len(rates) != total:
        raise HandoffError(f"{os.path.join(folder, 'schedule.json')}: {len(rates)} learning rates for {total} steps")
    return Handoff(
        dir=folder,
        runspec=runspec,
        model=model,
        plan=plan,
        train=splits["train"],
        eval=splits["eval"],
        test=splits["test"],
        steps=steps,
        batches_per_epoch=int(batches.get("batchesPerEpoch") or max(1, len(steps[0]))),
        learning_rates=rates,
        eval_every=int(schedule.get("evalEvery", 0)),
        init_path=handoff_file(folder, "init.safetensors"),
    )
