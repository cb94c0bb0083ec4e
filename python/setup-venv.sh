#!/usr/bin/env bash
# Creates (or refreshes) .venv at the repository root for the Python reference fixtures and
# interop tests. Python is never used by the app itself.
#
#   bash python/setup-venv.sh            # idempotent: returns at once when .venv is up to date
#   bash python/setup-venv.sh --force    # rebuild .venv from scratch
#
# Prerequisites (Debian 12): apt-get install python3-torch libopenblas0-pthread python3-venv
# The venv is made with --system-site-packages so that it uses Debian's torch 1.13 and numpy
# (PyPI's torch wheels pull GBs of CUDA libraries); everything else is pinned in
# python/requirements.txt and installed with --no-deps (that file is the complete closure).
# Override the interpreter with PREFIXLAB_PYTHON=/path/to/python3 (it must import torch).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/python/requirements.txt"
PY="${PREFIXLAB_PYTHON:-/usr/bin/python3}"
STAMP="$VENV/.prefixlab-requirements.sha256"

force=0
[[ "${1:-}" == "--force" ]] && force=1

if [[ ! -x "$PY" ]]; then
  echo "setup-venv: $PY not found (apt-get install python3 python3-venv python3-torch libopenblas0-pthread)" >&2
  exit 1
fi

# The stamp covers the requirements, this script and the base interpreter's version.
want="$( { cat "$REQ" "${BASH_SOURCE[0]}" "$ROOT/python/prefixlab_torch/pyproject.toml"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [[ $force -eq 0 && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-venv: $VENV is up to date"
  exit 0
fi

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "setup-venv: $PY cannot import torch and numpy; install Debian's packages first:" >&2
  echo "  apt-get install python3-torch libopenblas0-pthread python3-venv" >&2
  exit 1
fi

echo "setup-venv: creating $VENV"
rm -rf "$VENV"
if ! "$PY" -m venv --system-site-packages "$VENV"; then
  echo "setup-venv: 'python3 -m venv' failed; apt-get install python3-venv" >&2
  rm -rf "$VENV"
  exit 1
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$VENV/bin/python" -m pip install --quiet --no-deps --retries 5 --timeout 60 -r "$REQ"
# The torch engine (python/prefixlab_torch), editable: its dependencies are the pinned ones above.
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT/python/prefixlab_torch"

# Smoke test: the pieces the fixtures and interop tests rely on import and see torch.
"$VENV/bin/python" - <<'EOF'
import torch, numpy, transformers, tokenizers, safetensors, peft, pytest, jinja2
from transformers import LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel, GPTNeoXForCausalLM
from transformers.utils import is_torch_available
assert is_torch_available(), "transformers does not see torch"
print(f"setup-venv: torch {torch.__version__}, numpy {numpy.__version__}, transformers {transformers.__version__}, "
      f"tokenizers {tokenizers.__version__}, safetensors {safetensors.__version__}, peft {peft.__version__}, pytest {pytest.__version__}")
EOF

echo "$want" > "$STAMP"
echo "setup-venv: ready ($VENV)"
