#!/usr/bin/env python3
"""The real-model plots of docs/results.md, from the committed raw folder (no run folders needed):

    python3 scripts/results/real/plots.py     (needs matplotlib: Debian's python3-matplotlib)

- docs/results/real/curves-<item>.png: training loss per step, one line per method (mean over its seed runs).
- docs/results/real/diagnostics-<item>.png: per layer, Prefix-Tuning's attention mass on the prefix (untrained and
  trained) and PT+'s memory-to-attention output ratio (trained; exactly 0 untrained since M starts at 0).
"""
import glob
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from report_columns import columns_by_setting  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
REAL = os.path.join(ROOT, "docs", "results", "real")
RAW = os.path.join(REAL, "raw")



def losses(run_id):
    path = os.path.join(RAW, "runs", f"{run_id}.metrics.jsonl")
    if not os.path.exists(path):
        return None
    out = {}
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            if m.get("trainLoss") is not None:
                out[m["step"]] = m["trainLoss"]
    return [out[s] for s in sorted(out)]


def curves(setting, setting_columns):
    fig, ax = plt.subplots(figsize=(6.4, 4))
    drawn = set()
    for column in setting_columns:
        if not column["file"]:
            continue
        with open(os.path.join(RAW, column["file"])) as f:
            compare = json.load(f)
        series = [losses(r["runId"]) for r in compare["runs"] if r["method"] == column["method"] and r["status"] == "finished"]
        series = [s for s in series if s]
        if not series:
            continue
        n = min(len(s) for s in series)
        ax.plot(range(1, n + 1), [sum(s[i] for s in series) / len(series) for i in range(n)], label=column["label"])
        drawn.add(column["label"])
    if not drawn:
        plt.close(fig)
        return
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_title(setting)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(REAL, f"curves-{setting}.png"), dpi=110)
    plt.close(fig)


def diagnostics(path):
    item = os.path.basename(path)[:-5]
    with open(path) as f:
        d = json.load(f)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for key, style in (("prefix-initial", "--"), ("prefix-trained", "-")):
        if key in d:
            left.plot(d[key]["layerMeans"], style, marker="o", ms=3, label=key.replace("prefix-", ""))
    left.set_title("Prefix-Tuning: attention mass on the prefix")
    left.set_xlabel("layer")
    left.set_ylim(0, 1)
    left.legend(fontsize=8)
    if "ptplus-trained" in d:
        right.plot(d["ptplus-trained"]["layerMeans"], marker="o", ms=3, color="#d62728", label="trained")
    right.set_title("PT+: ‖φ(q)ᵀM‖ / ‖attention output‖")
    right.set_xlabel("layer")
    right.legend(fontsize=8)
    fig.suptitle(item, fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(REAL, f"diagnostics-{item}.png"), dpi=110)
    plt.close(fig)


def main():
    for setting, setting_columns in sorted(columns_by_setting().items()):
        curves(setting, setting_columns)
    for path in sorted(glob.glob(os.path.join(RAW, "diagnostics", "*.json"))):
        diagnostics(path)


if __name__ == "__main__":
    main()
