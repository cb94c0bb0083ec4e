"""PrefixLab's torch engine: trains the hand-off folder the app writes (src/main/engine/torch/handoff.ts) with
PyTorch, PEFT and accelerate, and writes a run folder in the app's formats. See README.md."""

__version__ = "0.1.0"
