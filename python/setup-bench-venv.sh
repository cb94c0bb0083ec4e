#!/usr/bin/env bash
# Creates (or refreshes) .venv-bench: the PyTorch reference of `npm run bench -- train|generate` on the real
# GGUF models (--shape smollm2-135m,gemma3-270m). Not used by the app or the tests.
#
#   bash python/setup-bench-venv.sh            # idempotent: returns at once when .venv-bench is up to date
#
# Why a second venv: transformers' GGUF loader needs torch >= 2 (it builds the model on the "meta" device), and
# Gemma 3 needs transformers >= 4.50, while .venv (python/setup-venv.sh) keeps Debian's torch 1.13 for the
# fixtures and interop tests. PyPI's torch 2.5.1 wheel pulls its CUDA libraries (~5 GB download) even on a CPU
# machine: the CPU-only index is not reachable here. Everything is pinned in python/requirements-bench.txt (the
# complete closure, installed with --no-deps).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-bench"
REQ="$ROOT/python/requirements-bench.txt"
PY="${PREFIXLAB_BENCH_BASE_PYTHON:-python3}"
STAMP="$VENV/.prefixlab-requirements.sha256"

want="$( { cat "$REQ" "${BASH_SOURCE[0]}"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-bench-venv: $VENV is up to date"
  exit 0
fi

echo "setup-bench-venv: creating $VENV (downloads ~5 GB)"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$VENV/bin/python" -m pip install --quiet --no-deps --retries 5 --timeout 120 -r "$REQ"
"$VENV/bin/python" - <<'PY'
import torch, transformers, peft, gguf
from transformers import Gemma3ForCausalLM, LlamaForCausalLM  # noqa: F401  (the two real models' classes)
print(f"setup-bench-venv: torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
PY
echo "$want" > "$STAMP"
echo "setup-bench-venv: ready ($VENV)"
