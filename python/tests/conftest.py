"""Shared setup for the interop tests: python/ on sys.path (for prefixlab_ptplus) and one session fixture that
has the app write every export the tests load (python/tests/make_exports.ts via tsx)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
FIXTURES = REPO / "tests" / "fixtures" / "models"
SHARED = Path(os.environ.get("PREFIXLAB_SHARED", REPO.parent / "shared"))
sys.path.insert(0, str(PYTHON_DIR))


def _tsx() -> list:
    local = REPO / "node_modules" / ".bin" / "tsx"
    if local.exists():
        return [str(local)]
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("node_modules/.bin/tsx and npx are both missing; run `npm install` first")
    return [npx, "--no-install", "tsx"]


def make_exports(cases: list, out: Path) -> dict:
    """Runs the app's exporter on `cases` into `out`; returns {case name: result record}."""
    reuse = os.environ.get("PREFIXLAB_INTEROP_EXPORTS")
    if reuse and (Path(reuse) / "results.json").exists():
        out = Path(reuse)
    else:
        out.mkdir(parents=True, exist_ok=True)
        cases_path = out / "cases.json"
        cases_path.write_text(json.dumps(cases))
        proc = subprocess.run(
            [*_tsx(), str(PYTHON_DIR / "tests" / "make_exports.ts"), str(cases_path), str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            pytest.fail(f"make_exports.ts failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    results = json.loads((out / "results.json").read_text())
    return {r["name"]: {**r, "dir": out / r["name"]} for r in results}
