"""The run folder in the app's formats (src/main/engine/train/checkpoint.ts, run-recorder.ts): metrics.jsonl
flushed per line, checkpoints/step-NNNNNN/{adapter,optimizer}.safetensors + state.json written into a hidden
temp folder and renamed into place, the newest keepCheckpoints kept, the final adapter.safetensors and
result.json. Only rank 0 writes."""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Tuple

import torch
from safetensors.torch import load_file, save_file

_CHECKPOINT = re.compile(r"^step-(\d{6,})$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: str, value: Any) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_tensors_atomic(path: str, tensors: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    save_file(tensors, tmp, metadata=metadata)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RunFolder:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.checkpoints = os.path.join(self.root, "checkpoints")
        self.metrics_path = os.path.join(self.root, "metrics.jsonl")

    def create(self) -> None:
        os.makedirs(self.checkpoints, exist_ok=True)

    # metrics

    def append_metrics(self, point: Dict[str, Any]) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(point) + "\n")
            fh.flush()

    def truncate_metrics(self, step: int) -> None:
        """Drops progress lines after `step` (a resumed run repeats the steps its last checkpoint did not keep)."""
        if not os.path.exists(self.metrics_path):
            return
        kept = []
        with open(self.metrics_path, "r", encoding="utf-8") as fh:
            for line in fh:
                try:
                    if json.loads(line)["step"] <= step:
                        kept.append(line if line.endswith("\n") else line + "\n")
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by the kill
        tmp = f"{self.metrics_path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(kept)
        os.replace(tmp, self.metrics_path)

    # checkpoints

    def list_checkpoints(self) -> List[Tuple[int, str]]:
        if not os.path.isdir(self.checkpoints):
            return []
        found = []
        for name in os.listdir(self.checkpoints):
            match = _CHECKPOINT.match(name)
            if match:
                found.append((int(match.group(1)), os.path.join(self.checkpoints, name)))
        return sorted(found)

    def write_checkpoint(self, step: int, adapter: Dict[str, torch.Tensor], optimizer: Dict[str, torch.Tensor], optimizer_step: int, state: Dict[str, Any], method: str, keep: int) -> str:
        os.makedirs(self.checkpoints, exist_ok=True)
        name = checkpoint_name(step)
        final = os.path.join(self.checkpoints, name)
        tmp = os.path.join(self.checkpoints, f".{name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        try:
            save_tensors_atomic(os.path.join(tmp, "adapter.safetensors"), adapter, {"format": "pt", "method": method, "step": str(step)})
            save_tensors_atomic(os.path.join(tmp, "optimizer.safetensors"), optimizer, {"step": str(optimizer_step)})
            write_json_atomic(os.path.join(tmp, "state.json"), state)
            _fsync_dir(tmp)
            if os.path.exists(final):
                old = os.path.join(self.checkpoints, f".{name}.{os.getpid()}.old")
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
            _fsync_dir(self.checkpoints)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.prune(keep)
        return final

    def prune(self, keep: int) -> None:
        for name in os.listdir(self.checkpoints):
            if name.startswith(".") and (name.endswith(".tmp") or name.endswith(".old")) and f".{os.getpid()}." not in name:
                shutil.rmtree(os.path.join(self.checkpoints, name), ignore_errors=True)
        if keep <= 0:
            return
        every = self.list_checkpoints()
        for _, path in every[: max(0, len(every) - keep)]:
            hidden = os.path.join(self.checkpoints, f".{os.path.basename(path)}.{os.getpid()}.old")
            try:
                os.replace(path, hidden)
            except OSError:
                continue
            shutil.rmtree(hidden, ignore_errors=True)

    @staticmethod
    def read_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor], int, Dict[str, Any]]:
        state_path = os.path.join(path, "state.json")
        try:
            with open(state_path, "r", encoding="utf-8") as fh:
                state = json.load(fh)
        except FileNotFoundError:
            raise ValueError(f"{state_path}: missing; the checkpoint is incomplete") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{state_path}: not valid JSON ({err})") from None
        from safetensors import safe_open

        optimizer_path = os.path.join(path, "optimizer.safetensors")
        with safe_open(optimizer_path, framework="pt") as fh:
            optimizer_step = int((fh.metadata() or {}).get("step", state.get("step", 0)))
        return load_file(os.path.join(path, "adapter.safetensors")), load_file(optimizer_path), optimizer_step, state

    def newest_checkpoint(self) -> Optional[Tuple[int, str]]:
        every = self.list_checkpoints()
        return every[-1] if every else None
