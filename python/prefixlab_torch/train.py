"""Trains a PrefixLab hand-off and writes the run folder.

    python -m prefixlab_torch.train --handoff DIR --run-dir DIR [--resume]
    accelerate launch --num_processes N [--config_file F] -m prefixlab_torch.train --handoff DIR --run-dir DIR [--resume]

Each optimiser step takes the app's batch plan (batches.json): gradAccumulation micro-batches of example
indices. With N processes every micro-batch is split between the ranks (rank r takes members r, r+N, …); each
rank's loss is its NLL sum divided by the WHOLE step's target-token count, so the ranks' gradients sum to the
single-process gradient (the loss is multiplied by N because DDP averages). Only rank 0 writes files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional

import torch

from .evaluate import Scoring, evaluate, token_nll
from .generate import generation_inputs, greedy
from .handoff import Handoff, HandoffError, _field, read_handoff
from .methods import attach
from .optim import AppAdamW, check_schedule
from .run_folder import RunFolder, write_json_atomic

_stop_requested = False


def _on_sigterm(signum, frame):  # noqa: ARG001
    global _stop_requested
    _stop_requested = True


def load_model(info: Dict[str, Any], dtype: Optional[str] = None):
    from transformers import AutoModelForCausalLM

    path = info["path"]
    if not os.path.exists(path):
        raise HandoffError(f"model.json: the model {path} does not exist")
    name = dtype or info.get("dtype", "float32")
    if name not in ("float32", "float64"):
        raise HandoffError(f"model.json: dtype {name!r} is not supported (float32, float64)")
    kwargs = dict(torch_dtype=getattr(torch, name), attn_implementation="eager")
    if info["format"] == "gguf":
        # transformers' GGUF loader builds the model under `with torch.device("meta")`, which torch < 2.0 lacks
        # (Debian's 1.13 in the repository's .venv): say so instead of a TypeError deep inside transformers.
        if int(torch.__version__.split(".")[0]) < 2:
            raise HandoffError(
                f"model.json: {path} is a GGUF file, which transformers' GGUF loader reads only with torch >= 2.0 "
                f"(this Python has torch {torch.__version__}); give --python a Python with torch >= 2, or train from a Hugging Face folder"
            )
        return AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), **kwargs)
    if info["format"] != "hf":
        raise HandoffError(f"model.json: format {info['format']!r} is not supported (hf, gguf)")
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def collate(examples, pad_id: int, device, width: int = 0):
    """Right-padded ids, mask and HF-aligned labels; `width` pads to the whole micro-batch's longest row, so a
    rank's rows are computed at the same shapes as in one process."""
    width = max(width, max(len(e.input_ids) for e in examples))
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels)
    return ids.to(device), mask.to(device), labels.to(device)


def _epoch(consumed: int, per_epoch: int) -> float:
    """trainer.ts's epoch + cursor / batches after `consumed` micro-batches."""
    if consumed <= 0:
        return 0.0
    epoch = (consumed - 1) // per_epoch
    return epoch + (consumed - epoch * per_epoch) / per_epoch


def generate_split(attached, accelerator, ho: Handoff, split: str, device) -> List[Dict[str, Any]]:
    """[{index, ids}]: greedy generations for the split's examples (generate.py), with the method's hooks."""
    examples = ho.eval if split == "eval" else ho.test
    # The bare module: a DDP wrapper would wait for the other ranks' forward passes.
    module = accelerator.unwrap_model(attached.module)

    def next_logits(ids: torch.Tensor) -> torch.Tensor:
        return module(input_ids=ids, attention_mask=torch.ones_like(ids), **attached.forward_kwargs).logits[:, -1]

    was_training = module.training
    module.eval()
    try:
        return greedy(next_logits, examples, ho.plan["eosTokenIds"], int(ho.plan["evalBatchSize"]), device)
    finally:
        module.train(was_training)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="prefixlab_torch.train", description="Train a PrefixLab hand-off with PyTorch + PEFT + accelerate")
    parser.add_argument("--handoff", required=True, help="the hand-off folder the app wrote")
    parser.add_argument("--run-dir", required=True, help="where the run folder is written (metrics.jsonl, checkpoints, adapter)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --run-dir")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=None, help="compute dtype (default: model.json's dtype); float64 for numerical checks")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    from accelerate import Accelerator
    from safetensors.torch import load_file

    from . import compat

    compat.install()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    rank, world = accelerator.process_index, accelerator.num_processes
    is_main = accelerator.is_main_process
    ho: Handoff = read_handoff(args.handoff)
    plan = ho.plan
    if plan.get("evalGenerate"):
        # Checked before training, so an old hand-off fails at once rather than after the run.
        for split, examples in (("eval", ho.eval), ("test", ho.test)):
            generation_inputs(examples, split, os.path.join(ho.dir, "examples.jsonl"))
        _field(plan, "eosTokenIds", os.path.join(ho.dir, "plan.json"))
    check_schedule(plan, ho.learning_rates, int(plan.get("warmupSteps") if plan.get("warmupSteps") is not None else math.ceil(ho.total_steps * 0.05)))
    torch.manual_seed(int(plan["seed"]))
    folder = RunFolder(args.run_dir)
    if is_main:
        folder.create()

    model = load_model(ho.model, args.dtype)
    attached = attach(model, ho.method, ho.method_options, load_file(ho.init_path), list(plan["trainable"]))
    # Adapter tensors in the model's dtype (PEFT and PT+ create them in float32).
    attached.module.to(device=accelerator.device, dtype=next(model.parameters()).dtype)
    optimizer = AppAdamW(attached.params, plan)
    scoring = Scoring(ho.dir)
    pad_id = int(plan["padId"])

    start = 0
    state_extra: Dict[str, Any] = {"tokensSeen": 0, "trainMs": 0.0, "lastTrainLoss": None}
    if args.resume:
        newest = folder.newest_checkpoint()
        if newest is None:
            raise HandoffError(f"{folder.checkpoints}: no complete checkpoint to resume from")
        step, path = newest
        adapter, moments, optimizer_step, state = RunFolder.read_checkpoint(path)
        attached.load_state_dict(adapter, os.path.join(path, "adapter.safetensors"))
        optimizer.load_state_tensors(moments, optimizer_step, os.path.join(path, "optimizer.safetensors"))
        start = step
        state_extra = {k: state.get(k, v) for k, v in state_extra.items()}
        if is_main:
            folder.truncate_metrics(step)
    if world > 1:
        # DDP (or whatever the accelerate config says) wraps the module; the trainable tensors stay the same objects.
        attached.module = accelerator.prepare_model(attached.module)

    signal.signal(signal.SIGTERM, _on_sigterm)
    device = accelerator.device
    eval_every = ho.eval_every
    keep = int(plan["keepCheckpoints"])
    checkpoint_every = int(plan["checkpointEvery"])
    tokens_seen = int(state_extra["tokensSeen"])
    train_ms = float(state_extra["trainMs"])
    last_loss = state_extra["lastTrainLoss"]
    recent: List[tuple] = []
    status, reason = "finished", None
    step = start
    last_checkpoint = start if args.resume else -1
    evals: Dict[str, Any] = {}

    def checkpoint(at: int) -> None:
        nonlocal last_checkpoint
        if is_main:
            state = {
                "version": 1, "method": ho.method, "step": at, "epoch": int(_epoch(at * int(plan["gradAccumulation"]), ho.batches_per_epoch)),
                "cursor": 0, "order": [], "rng": [0, 0, 0, 0], "tokensSeen": tokens_seen, "lastTrainLoss": last_loss, "trainMs": train_ms, "engine": "torch",
            }
            folder.write_checkpoint(at, attached.state_dict(), optimizer.state_tensors(), optimizer.step_count, state, ho.method, keep)
        last_checkpoint = at
        accelerator.wait_for_everyone()

    def run_evals(at: int) -> Dict[str, Any]:
        attached.module.eval()
        try:
            out = {}
            for split in scoring.splits():
                report = evaluate(attached, scoring, split, pad_id, int(plan["evalBatchSize"]), device)
                if report is not None:
                    out[split] = report
            return out
        finally:
            attached.module.train()

    attached.module.train()
    while step < ho.total_steps:
        stop = torch.tensor([1.0 if _stop_requested else 0.0])
        if world > 1:
            stop = accelerator.reduce(stop.to(device), reduction="sum").cpu()
        if float(stop) > 0:
            status, reason = "cancelled", f"cancelled after step {step}"
            break
        began = time.perf_counter()
        micro = ho.steps[step]
        members = [[ho.train[i] for i in batch] for batch in micro]
        targets = sum(e.target_tokens for batch in members for e in batch)
        real = sum(len(e.input_ids) for batch in members for e in batch)
        if targets == 0:
            status, reason = "failed", f"step {step + 1}: the batch has no target tokens"
            break
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        for k, batch in enumerate(members):
            mine = batch[rank::world]
            sync = k == len(members) - 1 or world == 1
            with contextlib.nullcontext() if sync else accelerator.no_sync(attached.module):
                if mine:
                    ids, mask, labels = collate(mine, pad_id, device, width=max(len(e.input_ids) for e in batch))
                    loss = token_nll(attached.logits(ids, mask), labels).sum() / targets
                else:
                    loss = sum(p.sum() for p in attached.params.values()) * 0.0
                # DDP averages the ranks' gradients; the step's gradient is their sum.
                (loss * world).backward()
            loss_sum += loss.detach()
        if world > 1:
            loss_sum = accelerator.reduce(loss_sum, reduction="sum")
        loss_value = float(loss_sum)
        if not math.isfinite(loss_value):
            status, reason = "failed", f"step {step + 1}: loss is NaN/Inf (got {loss_value})"
            break
        learning_rate = ho.learning_rates[step]
        grad_norm = optimizer.step(learning_rate)
        if not math.isfinite(grad_norm):
            status, reason = "failed", f"step {step + 1}: gradient norm is NaN/Inf (got {grad_norm})"
            break
        step += 1
        elapsed = (time.perf_counter() - began) * 1000
        train_ms += elapsed
        tokens_seen += real
        last_loss = loss_value
        recent = (recent + [(real, elapsed)])[-10:]
        window_ms = sum(ms for _, ms in recent)
        point: Dict[str, Any] = {
            "step": step,
            "totalSteps": ho.total_steps,
            "epoch": _epoch(step * int(plan["gradAccumulation"]), ho.batches_per_epoch),
            "trainLoss": loss_value,
            "learningRate": learning_rate,
            "gradNorm": grad_norm,
            "tokensPerSecond": sum(t for t, _ in recent) / window_ms * 1000 if window_ms > 0 else 0,
            "tokensSeen": tokens_seen,
            "etaSeconds": (ho.total_steps - step) * (window_ms / len(recent)) / 1000,
        }
        is_last = step == ho.total_steps
        if (eval_every > 0 and step % eval_every == 0) or is_last:
            evals = run_evals(step)
            shown = evals.get("eval") or evals.get("test")
            if shown:
                point["evalLoss"] = shown["evalLoss"]
                if shown.get("accuracy") is not None:
                    point["evalAccuracy"] = shown["accuracy"]
            if "test" in evals:
                point["testLoss"] = evals["test"]["evalLoss"]
                if evals["test"].get("accuracy") is not None:
                    point["testAccuracy"] = evals["test"]["accuracy"]
        if is_main:
            folder.append_metrics(point)
        if not is_last and checkpoint_every > 0 and step % checkpoint_every == 0:
            checkpoint(step)
    if status != "failed" and step > 0 and step != last_checkpoint:
        checkpoint(step)

    result: Dict[str, Any] = {"status": status, "steps": step, "totalSteps": ho.total_steps, "processes": world}
    if reason:
        result["reason"] = reason
    if status != "failed" and step > 0:
        if not evals or status == "cancelled":
            evals = run_evals(step)
        final = {"trainLoss": last_loss, "evalLoss": None, "accuracy": None, "evalExamples": 0}
        shown = evals.get("eval") or evals.get("test")
        if shown:
            final.update(evalLoss=shown["evalLoss"], accuracy=shown.get("accuracy"), evalExamples=shown["examples"], labels=shown.get("labels"), confusion=shown.get("confusion"))
        if "test" in evals:
            result["finalTest"] = {"trainLoss": last_loss, "evalLoss": evals["test"]["evalLoss"], "accuracy": evals["test"].get("accuracy"), "evalExamples": evals["test"]["examples"]}
        result["final"] = final
        if plan.get("evalGenerate"):
            # As job.ts: greedy generations of a split only where that split was scored. Rank 0 only (the others wait).
            for split, key in (("eval", "generations"), ("test", "testGenerations")):
                if split in evals and is_main:
                    result[key] = generate_split(attached, accelerator, ho, split, device)
    result["tokensSeen"] = tokens_seen
    result["tokensPerSecond"] = tokens_seen / train_ms * 1000 if train_ms > 0 else 0
    if is_main:
        from .run_folder import save_tensors_atomic

        if step > 0 and status != "failed":
            save_tensors_atomic(os.path.join(folder.root, "adapter.safetensors"), attached.state_dict(), {"format": "pt", "method": ho.method, "step": str(step)})
        write_json_atomic(os.path.join(folder.root, "result.json"), result)
    accelerator.wait_for_everyone()
    return result


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except (HandoffError, ValueError) as err:
        print(f"prefixlab_torch: {err}", file=sys.stderr)
        try:
            os.makedirs(args.run_dir, exist_ok=True)
            write_json_atomic(os.path.join(args.run_dir, "result.json"), {"status": "failed", "reason": str(err), "steps": 0})
        except OSError:
            pass
        return 2
    return 0 if result["status"] != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
