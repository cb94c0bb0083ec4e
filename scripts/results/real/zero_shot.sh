#!/usr/bin/env bash
# The base models' own score on each task's test sample, before any training (the tables' "Base, no training"
# column): the test file imported with the same template as the training pool (run.sh), then
# `prefixlab eval --generate` (label likelihood and greedy exact match, the code training evaluates with).
# Writes docs/results/real/raw/zero-shot/<model>-<task>.json; skips what exists.
# Env: PREFIXLAB, HOME_DIR, MODEL_CACHE, THREADS as run.sh; ITEMS ("smollm2-sst2 …", default: every model × task of the grid).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
prefixlab=${PREFIXLAB:-node bin/prefixlab.js}
home=${HOME_DIR:-$root/.tmp/real-results-home}
cache=${MODEL_CACHE:-${PREFIXLAB_MODEL_CACHE:-$HOME/.cache/prefixlab/models}}
tasks_dir="$root/docs/results/real/tasks"
out="$root/docs/results/real/raw/zero-shot"
mkdir -p "$out" "$home"
export TF_NUM_INTRAOP_THREADS=${THREADS:-1} TF_NUM_INTEROP_THREADS=1
. "$root/scripts/results/real/common.sh"
default_items() { for t in sst2 trec agnews dbpedia goemotions; do echo "smollm2-$t"; done; echo gemma3-goemotions gemma3-dbpedia; }

for item in ${ITEMS:-$(default_items)}; do
  [ -e "$out/$item.json" ] && continue
  model=${item%%-*} task=${item#*-}
  id=$(import_task "$model" "$task" "$tasks_dir/$task-test.jsonl")
  # As the trained runs: label likelihood only where the task has <= 6 labels (run.sh's scoreLabels).
  scores=()
  [ "$(task_field "$task" nlabels)" -gt 6 ] && scores=(--no-label-scores)
  $prefixlab eval --model "$(model_file "$model")" --data "$home/datasets/$id" --generate "${scores[@]}" --json > "$out/$item.json.tmp"
  mv "$out/$item.json.tmp" "$out/$item.json"
  echo "$item: $(python3 -c "import json; d=json.load(open('$out/$item.json')); print('accuracy', d['accuracy'], 'exact match', d['exactMatch'])")"
done
