#!/usr/bin/env bash
# The experiment behind docs/results.md: for each task and k, one `prefixlab compare` of PT+, Prefix-Tuning,
# Prompt Tuning and LoRA, each at a learning rate tuned on a validation split carved from the training data
# ("main"), and a second compare of PT+ with data-mean centring at its own tuned rate ("centred"; same seeds
# → same k-shot training sets, same test split). Writes docs/results/raw/<task>-k<k>.json (.txt: the printed
# table) and <task>-k<k>-centred.json, and the run folders (with per-step metrics) under $HOME_DIR.
#
# A work queue: every k = 8 comparison first, then every k = 64 one. An item whose JSON exists is skipped, and
# each item is claimed atomically (mkdir), so two workers can share the queue on a 2-core machine:
#   scripts/results/run_experiments.sh & scripts/results/run_experiments.sh & wait
# Env: PREFIXLAB (default "node bin/prefixlab.js"), HOME_DIR (default .tmp/results-home), BACKEND (tensorflow),
#      TASKS (tinystories-gender tinystories-mood tinystories-name sst2 trec), KS ("8 64"), SEEDS (1,2,3,4,5)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
prefixlab=${PREFIXLAB:-node bin/prefixlab.js}
home=${HOME_DIR:-$root/.tmp/results-home}
backend=${BACKEND:-tensorflow}
tasks=${TASKS:-tinystories-gender tinystories-mood tinystories-name sst2 trec}
ks=${KS:-8 64}
seeds=${SEEDS:-1,2,3,4,5}
model=${MODEL:-$root/../shared/models/stories260K-hf}
raw="$root/docs/results/raw"
claims="$home/claims"
mkdir -p "$raw" "$home" "$claims"

# Steps: k = 8 → 40 steps (20 epochs of a binary task's 16 examples); k = 64 → 100 steps (6 epochs of 128).
steps_for() { if [ "$1" -le 8 ]; then echo 40; else echo 100; fi; }

for k in $ks; do
  for task in $tasks; do
    for variant in main centred; do
      name="$task-k$k$([ "$variant" = centred ] && echo -centred || true)"
      [ -e "$raw/$name.json" ] && continue
      mkdir "$claims/$name" 2>/dev/null || continue
      steps=$(steps_for "$k")
      methods=(--methods ptplus,prefix,prompt,lora)
      [ "$variant" = centred ] && methods=(--methods ptplus --set ptplus.phiCenter=data-mean)
      echo "== $name: $steps steps (worker $$, $(date +%T))" >&2
      start=$(date +%s)
      $prefixlab compare --model "$model" --data "$root/docs/results/tasks/$task.jsonl" --seeds "$seeds" --k-per-class "$k" \
        --steps "$steps" --eval-split 120 --set maxLength=192 --set evalEvery=$((steps / 4)) \
        --tune-lr --tune-val 64 --in-process --backend "$backend" --home "$home" \
        "${methods[@]}" --out "$raw/$name.json" > "$raw/$name.txt"
      echo "== $name done in $(( $(date +%s) - start )) s" >&2
    done
  done
done
