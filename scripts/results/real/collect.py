#!/usr/bin/env python3
"""Copies what the real-model report needs from the experiment's run folders into the committed raw folder.

    python3 scripts/results/real/collect.py [--home .tmp/real-results-home]

1. Every run a raw compare JSON names (seed runs and learning-rate tuning runs): its metrics.jsonl (one line per step:
   train loss, learning rate, gradient norm, tokens/s, memory) → docs/results/real/raw/runs/<runId>.metrics.jsonl.
2. The paper's diagnostic on each setting's seed-1 Prefix-Tuning run (attention mass on the prefix per layer, untrained
   and trained) and PT+ (elu) run (memory-to-attention output ratio per layer), by `prefixlab runs diagnostics` on 16
   test-sample prompts → docs/results/real/raw/diagnostics/<model>-<task>-k<k>.json. The runs are those of the report's
   columns (report.mjs --columns: the setting's `main` file or its pieces, or a grid extension whose rate won); what is
   already there is kept while its run is still the column's, what is missing or stale is (re)computed.
Env: PREFIXLAB (default "node bin/prefixlab.js"), THREADS (TF_NUM_INTRAOP_THREADS, default 1).
"""
import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys

from report_columns import columns_by_setting

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
RAW = os.path.join(ROOT, "docs", "results", "real", "raw")


def run_ids(compare):
    ids = [r["runId"] for r in compare.get("runs", [])]
    for row in compare.get("rows", []):
        for point in (row.get("tuning") or {}).get("grid", []):
            ids += point.get("runIds", [])
    return ids



def diagnostics(home, setting_columns, done, cli):
    """The diagnostics of one setting missing from `done` (or computed from a run no longer the column's)."""
    out = {}
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS=os.environ.get("THREADS", "1"))
    for method, label in (("prefix", "Prefix-Tuning"), ("ptplus", "PT+ elu")):
        column = next((c for c in setting_columns if c["label"] == label and c["file"]), None)
        if not column:
            continue
        with open(os.path.join(RAW, column["file"])) as f:
            compare = json.load(f)
        run = next((r for r in compare.get("runs", []) if r["method"] == method and r["seed"] == 1 and r["status"] == "finished"), None)
        if not run or not os.path.isdir(os.path.join(home, "runs", run["runId"])):
            continue
        for initial in (True, False):
            key = f"{method}-{'initial' if initial else 'trained'}"
            if done.get(key, {}).get("runId") == run["runId"]:
                continue
            cmd = cli + ["runs", "diagnostics", run["runId"], "--texts", "16", "--home", home, "--json"] + (["--initial"] if initial else [])
            result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
            if result.returncode != 0:
                sys.exit(f"collect: {' '.join(cmd)}: {result.stderr.strip()}")
            out[key] = json.loads(result.stdout)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default=os.path.join(ROOT, ".tmp", "real-results-home"))
    parser.add_argument("--no-diagnostics", action="store_true")
    args = parser.parse_args()
    cli = shlex.split(os.environ.get("PREFIXLAB", "node bin/prefixlab.js"))
    os.makedirs(os.path.join(RAW, "runs"), exist_ok=True)
    os.makedirs(os.path.join(RAW, "diagnostics"), exist_ok=True)
    for path in sorted(glob.glob(os.path.join(RAW, "*.json")) + glob.glob(os.path.join(RAW, "grid-extensions", "*.json"))):
        with open(path) as f:
            compare = json.load(f)
        for run_id in run_ids(compare):
            dest = os.path.join(RAW, "runs", f"{run_id}.metrics.jsonl")
            src = os.path.join(args.home, "runs", run_id, "metrics.jsonl")
            if not os.path.exists(dest) and os.path.exists(src):
                shutil.copyfile(src, dest + ".tmp")
                os.replace(dest + ".tmp", dest)
    for setting, setting_columns in ([] if args.no_diagnostics else columns_by_setting().items()):
        dest = os.path.join(RAW, "diagnostics", f"{setting}.json")
        done = {}
        if os.path.exists(dest):
            with open(dest) as f:
                done = json.load(f)
        found = diagnostics(args.home, setting_columns, done, cli)
        if found:
            with open(dest + ".tmp", "w") as f:
                json.dump({**done, **found}, f, indent=1)
            os.replace(dest + ".tmp", dest)
            print(f"{setting}: diagnostics written ({', '.join(found)})")


if __name__ == "__main__":
    main()
