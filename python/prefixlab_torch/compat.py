"""Shims for Debian's torch 1.13 (the repository's .venv) under the pinned accelerate 1.2.1.

accelerate's multi-process CPU path (DistributedType.MULTI_CPU, gloo) calls torch.cpu.device_count() and
torch.cpu.set_device(), which torch added in 2.1. On a CPU there is one "device" and nothing to select, so the
shims answer exactly that. They are installed only where torch lacks the functions (torch >= 2.1 is untouched).
"""

import torch


def install() -> None:
    cpu = getattr(torch, "cpu", None)
    if cpu is None:
        return
    if not hasattr(cpu, "device_count"):
        cpu.device_count = lambda: 1
    if not hasattr(cpu, "set_device"):
        cpu.set_device = lambda device: None
