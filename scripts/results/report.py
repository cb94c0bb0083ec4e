#!/usr/bin/env python3
"""Tables and learning curves for docs/results.md from the compare JSON of run_experiments.sh.

    .venv/bin/python scripts/results/report.py [--home DIR]     (plots: Debian's python3-matplotlib)

1. With --home (the runs folder the experiment wrote), extracts every seed run's per-step metrics
   (train loss each step; eval loss/accuracy at the evaluation steps) into docs/results/raw/curves.json,
   so the report can be rebuilt without the run folders.
2. Writes the Markdown tables between the `<!-- tables:start -->` / `<!-- tables:end -->` markers of
   docs/results.md, and docs/results/curves-k<K>.png (matplotlib: Debian's python3-matplotlib 3.6.3).
"""
import argparse
import json
import math
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RAW = os.path.join(ROOT, "docs", "results", "raw")
TASKS = ["tinystories-gender", "tinystories-name", "tinystories-mood", "sst2", "trec"]
TASK_TITLES = {
    "tinystories-gender": "TinyStories gender (girl/boy)",
    "tinystories-name": "TinyStories name (Lily/Tim)",
    "tinystories-mood": "TinyStories mood (happy/sad)",
    "sst2": "SST-2 (good/bad)",
    "trec": "TREC (5 coarse types)",
}
CHANCE = {"trec": 0.2}
ROWS = [("ptplus", ""), ("ptplus", "-centred"), ("prefix", ""), ("prompt", ""), ("lora", "")]
LABELS = {"ptplus": "PT+", "ptplus-centred": "PT+ data-mean", "prefix": "Prefix-Tuning", "prompt": "Prompt Tuning", "lora": "LoRA"}
COLORS = {"ptplus": "#d62728", "ptplus-centred": "#ff7f0e", "prefix": "#1f77b4", "prompt": "#2ca02c", "lora": "#9467bd"}


def load(task, k, suffix):
    path = os.path.join(RAW, f"{task}-k{k}{suffix}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def settings():
    """(task, k) pairs with at least the main comparison present, in TASKS order."""
    found = []
    for task in TASKS:
        for k in (8, 64):
            if load(task, k, "") is not None:
                found.append((task, k))
    return found


def row_of(task, k, method, suffix):
    result = load(task, k, suffix)
    if result is None:
        return None, None
    for row in result["rows"]:
        if row["method"] == method:
            return row, result
    return None, result


def fmt_lr(lr):
    return f"{lr:.0e}".replace("e-0", "e-")


def fmt_grid(tuning):
    cells = []
    for p in tuning["grid"]:
        score = "failed" if p["valAccuracy"] is None else f"{100 * p['valAccuracy']:.0f}"
        cell = f"{fmt_lr(p['lr'])}: {score}"
        cells.append(f"**{cell}**" if p["lr"] == tuning["chosenLr"] else cell)
    return " · ".join(cells)


# ---- curves ----

def extract_curves(home):
    curves = {}
    for task, k in settings():
        for method, suffix in ROWS:
            result = load(task, k, suffix)
            if result is None:
                continue
            for run in result["runs"]:
                if run["method"] != method:
                    continue
                path = os.path.join(home, "runs", run["runId"], "metrics.jsonl")
                if not os.path.exists(path):
                    continue
                points = [json.loads(line) for line in open(path) if line.strip()]
                key = f"{task}|{k}|{method}{suffix}"
                curves.setdefault(key, []).append({
                    "seed": run["seed"],
                    "trainLoss": [p["trainLoss"] for p in points],
                    "eval": [[p["step"], p.get("evalLoss"), p.get("evalAccuracy")] for p in points if "evalLoss" in p],
                })
    with open(os.path.join(RAW, "curves.json"), "w") as f:
        json.dump(curves, f)
    print(f"wrote {os.path.join(RAW, 'curves.json')} ({len(curves)} series)")


def smooth(values, window=5):
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1): i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def plot_curves():
    path = os.path.join(RAW, "curves.json")
    if not os.path.exists(path):
        print("no curves.json: run with --home first", file=sys.stderr)
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = json.load(open(path))
    for k in (8, 64):
        tasks = [t for t in TASKS if any(key.startswith(f"{t}|{k}|") for key in curves)]
        if not tasks:
            continue
        fig, axes = plt.subplots(2, len(tasks), figsize=(3.4 * len(tasks), 6.2), squeeze=False)
        for col, task in enumerate(tasks):
            loss_ax, acc_ax = axes[0][col], axes[1][col]
            for method, suffix in ROWS:
                runs = curves.get(f"{task}|{k}|{method}{suffix}")
                if not runs:
                    continue
                name = method + suffix
                steps = min(len(r["trainLoss"]) for r in runs)
                mean_loss = [sum(r["trainLoss"][i] for r in runs) / len(runs) for i in range(steps)]
                loss_ax.plot(range(1, steps + 1), smooth(mean_loss), color=COLORS[name], label=LABELS[name], lw=1.4)
                eval_steps = sorted({p[0] for r in runs for p in r["eval"]})
                accs = []
                for s in eval_steps:
                    vals = [p[2] for r in runs for p in r["eval"] if p[0] == s and p[2] is not None]
                    accs.append(sum(vals) / len(vals) if vals else math.nan)
                acc_ax.plot(eval_steps, [100 * a for a in accs], marker="o", ms=3, color=COLORS[name], label=LABELS[name], lw=1.4)
            loss_ax.set_title(TASK_TITLES[task], fontsize=9)
            loss_ax.set_yscale("log")
            loss_ax.set_xlabel("step", fontsize=8)
            acc_ax.set_xlabel("step", fontsize=8)
            acc_ax.axhline(100 * CHANCE.get(task, 0.5), color="grey", ls=":", lw=1)
            for ax in (loss_ax, acc_ax):
                ax.tick_params(labelsize=7)
                ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("train loss (nats/token, 5-step mean)", fontsize=8)
        axes[1][0].set_ylabel("test accuracy % (mean of 5 seeds)", fontsize=8)
        axes[0][-1].legend(fontsize=7, loc="upper right")
        fig.suptitle(f"stories260K, k = {k} examples per class: mean over 5 seeds, each method at its tuned rate", fontsize=10)
        fig.tight_layout()
        out = os.path.join(ROOT, "docs", "results", f"curves-k{k}.png")
        fig.savefig(out, dpi=110)
        plt.close(fig)
        print(f"wrote {out}")


# ---- tables ----

def tables():
    lines = []
    summary = {}
    for task, k in settings():
        main = load(task, k, "")
        lines.append(f"#### {TASK_TITLES[task]}, k = {k} ({main['steps']} steps, {main['evalExamples']} test examples, "
                     f"{len(main['tuning']['valIds'])} validation examples)\n")
        lines.append("| method | trainable params | chosen lr | grid (val. acc. %) | test accuracy % (mean ± std, 5 seeds) | eval loss | tokens/s | peak tensor memory |")
        lines.append("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
        accs = {}
        for method, suffix in ROWS:
            row, _ = row_of(task, k, method, suffix)
            name = method + suffix
            if row is None:
                lines.append(f"| {LABELS[name]} | — | — | not run | — | — | — | — |")
                continue
            acc = row["accuracyMean"]
            accs[name] = acc
            failed = f" ({row['failedRuns']} failed)" if row["failedRuns"] else ""
            lines.append(
                f"| {LABELS[name]} | {row['trainableParams']:,} | {fmt_lr(row['lr'])} | {fmt_grid(row['tuning']) if row.get('tuning') else 'fixed'} | "
                f"{100 * acc:.1f} ± {100 * row['accuracyStd']:.1f}{failed} | {row['evalLoss']:.3f} | {row['tokensPerSecond']:,.0f} | "
                f"{row['peakMemoryBytes'] / 2**20:.0f} MiB |"
            )
        best = max((a for a in accs.values() if a is not None), default=None)
        summary[(task, k)] = accs
        lines.append("")
    # Summary: accuracy per setting, best in bold, and the mean over settings.
    head = ["setting"] + [LABELS[m + s] for m, s in ROWS]
    out = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * len(ROWS)]
    totals = {m + s: [] for m, s in ROWS}
    for (task, k), accs in summary.items():
        best = max((a for a in accs.values() if a is not None), default=None)
        cells = []
        for m, s in ROWS:
            a = accs.get(m + s)
            if a is None:
                cells.append("—")
                continue
            totals[m + s].append(a)
            text = f"{100 * a:.1f}"
            cells.append(f"**{text}**" if best is not None and abs(a - best) < 1e-9 else text)
        out.append(f"| {TASK_TITLES[task].split(' (')[0]}, k = {k} | " + " | ".join(cells) + " |")
    n = len(summary)
    out.append("| mean over settings | " + " | ".join(
        f"{100 * sum(v) / len(v):.1f}" if len(v) == n and n else "—" for v in totals.values()) + " |")
    return "\n".join(out) + "\n\n" + "\n".join(lines)


def write_tables():
    doc = os.path.join(ROOT, "docs", "results.md")
    text = tables()
    if not os.path.exists(doc):
        print(text)
        return
    src = open(doc).read()
    pattern = re.compile(r"(<!-- tables:start -->\n).*?(<!-- tables:end -->)", re.S)
    if not pattern.search(src):
        print(text)
        return
    open(doc, "w").write(pattern.sub(lambda m: m.group(1) + "\n" + text + "\n" + m.group(2), src))
    print(f"updated the tables in {doc}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", help="the runs folder of the experiment (extracts curves.json)")
    args = parser.parse_args()
    if args.home:
        extract_curves(args.home)
    write_tables()
    plot_curves()


if __name__ == "__main__":
    main()
