#!/usr/bin/env bash
# The experiment behind docs/results.md's real-model section: the paper's few-shot generative classification
# protocol on SmolLM2-135M-Instruct (through its chat template) and Gemma-3-270M (plain prompt: a base model with no
# chat template). A work queue of `prefixlab compare` items, each
#   <model>-<task>-k<k>-<variant>:  main = PT+ (elu), Prefix-Tuning, Prompt Tuning, LoRA, full fine-tuning;
#                                   gelu = PT+ with the gelu feature map; centred = PT+ with phiCenter=data-mean;
#                                   ptplus | prefix | prompt | lora | full = one method of main on its own (the k-shot
#                                   draws and the validation split depend on the data and seeds, not on the methods,
#                                   so the pieces equal main's runs): a slow model's setting then fits a session,
# every method at a learning rate tuned on a validation split carved from the training pool (--tune-lr, seed 1),
# then trained with each seed on the same k-shot draw and scored on the task's fixed test sample (--eval-data):
# generative exact match (evalGenerate) always, label likelihood where the task has ≤ 6 labels.
#
# A grid whose best rate sits at its edge is extended by a probe item, <model>-<task>-k<k>-<piece>@<lr>: that one rate
# tuned alone (`compare --tune-only`: the same validation split, seed and steps, so it scores what it would inside the
# grid) → raw/grid-extensions/<item>.json; where it wins the merged grid (report.mjs --columns decides, by the app's
# rule), the seeds then run at it → raw/grid-extensions/<item>-final.json, and the report takes that column from there.
#
# Resumable across sessions: an item whose JSON exists is skipped; items are claimed atomically (mkdir), so
# several workers can share the queue:  scripts/results/real/run.sh & scripts/results/real/run.sh & wait
# Env: PREFIXLAB (default "node bin/prefixlab.js"), HOME_DIR (.tmp/real-results-home), RAW_DIR (docs/results/real/raw), BACKEND (tensorflow),
#      ITEMS (space-separated item names; default: the whole queue in order), SEEDS (1,2,3), THREADS (1 per worker),
#      MODEL_CACHE (~/.cache/prefixlab/models, where scripts/models/fetch-models.py puts the models)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
prefixlab=${PREFIXLAB:-node bin/prefixlab.js}
home=${HOME_DIR:-$root/.tmp/real-results-home}
backend=${BACKEND:-tensorflow}
seeds=${SEEDS:-1,2,3}
cache=${MODEL_CACHE:-${PREFIXLAB_MODEL_CACHE:-$HOME/.cache/prefixlab/models}}
tasks_dir="$root/docs/results/real/tasks"
raw=${RAW_DIR:-$root/docs/results/real/raw}
claims="$home/claims"
mkdir -p "$raw" "$home" "$claims"
export TF_NUM_INTRAOP_THREADS=${THREADS:-1} TF_NUM_INTEROP_THREADS=1

. "$root/scripts/results/real/common.sh"

# The training pool imported once per model (the template differs: chat for the instruct model, plain for the base).
# Under a lock: two workers starting pieces of one setting would otherwise both import it.
dataset_for() {
  local model=$1 task=$2 idfile="$home/dataset-$1-$2.id"
  (
    flock 9
    if [ ! -s "$idfile" ]; then
      import_task "$model" "$task" "$tasks_dir/$task-train.jsonl" > "$idfile.tmp"
      mv "$idfile.tmp" "$idfile"
    fi
  ) 9> "$idfile.lock"
  echo "$home/datasets/$(cat "$idfile")"
}

# Learning-rate grids: half-decade steps per method, the same for every task and model. They reach below the
# stories260K grids: on SmolLM2, PT+ at 3e-3 already diverges (its queries are large, so φ(q)ᵀM moves fast). The
# k = 1 SmolLM2 settings ran the four-point grids (PT+ and Prefix 1e-4…3e-3, LoRA 3e-4…1e-2); where their best rate
# sat at an edge they were extended by probes (3e-5 for PT+, 1e-2 for Prefix, 3e-2 for LoRA), and later settings run
# the grids with those points included.
declare -A GRID=([ptplus]=3e-5,1e-4,3e-4,1e-3,3e-3 [prefix]=1e-4,3e-4,1e-3,3e-3,1e-2 [prompt]=3e-3,1e-2,3e-2,1e-1
                 [lora]=3e-4,1e-3,3e-3,1e-2,3e-2 [full]=1e-5,3e-5,1e-4,3e-4)
grids() { for m in "$@"; do printf -- '--lr-grid %s=%s ' "$m" "${GRID[$m]}"; done; }

# k = 1: 16 steps (batch 8 or the whole k-shot set when smaller); k = 8: 32 steps.
steps_for() { if [ "$1" -le 1 ]; then echo 16; else echo 32; fi; }

# The queue in pieces (a piece is skipped where its setting's main file holds it already): k = 1 first, then
# Gemma, then k = 8.
PIECES="ptplus lora prefix prompt full gelu centred"
default_items() {
  for task in sst2 trec agnews dbpedia goemotions; do for v in $PIECES; do echo "smollm2-$task-k1-$v"; done; done
  for task in goemotions dbpedia; do for v in $PIECES; do echo "gemma3-$task-k1-$v"; done; done
  for task in sst2 trec agnews dbpedia goemotions; do for v in $PIECES; do echo "smollm2-$task-k8-$v"; done; done
}

# failed_runs FILE → how many runs (seeds and tuning) of a compare JSON did not finish.
failed_runs() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(r.get('failedRuns', 0) + sum(g.get('failedRuns', 0) for g in (r.get('tuning') or {}).get('grid', [])) for r in d['rows']))" "$1"
}

# A probe's column after merging: "final" when its rate won the merged grid and its seeds have not run, else "done".
probe_verdict() {
  node "$root/scripts/results/real/report.mjs" --raw "$raw" --columns |
    python3 -c "import json,sys; print('final' if any(c['pendingItem'] == sys.argv[1] for c in json.load(sys.stdin)) else 'done')" "$1"
}

for item in ${ITEMS:-$(default_items)}; do
  IFS=- read -r model task kk variant <<< "$item"
  probe_lr=
  case "$variant" in *@*) probe_lr=${variant#*@} variant=${variant%%@*} ;; esac
  case "$variant" in
    main) methods=(--methods ptplus,prefix,prompt,lora,full) ;;
    ptplus | prefix | prompt | lora | full) methods=(--methods "$variant") ;;
    gelu) methods=(--methods ptplus --set ptplus.featureMap=gelu) ;;
    centred) methods=(--methods ptplus --set ptplus.phiCenter=data-mean) ;;
    *) echo "run.sh: $item: unknown variant \"$variant\" (main, ptplus, prefix, prompt, lora, full, gelu, centred)" >&2; exit 2 ;;
  esac
  method=${methods[1]}
  [ "$variant" = main ] && [ -n "$probe_lr" ] && { echo "run.sh: $item: probe a piece (ptplus@…, lora@…), not main" >&2; exit 2; }
  if [ -n "$probe_lr" ]; then
    out_dir="$raw/grid-extensions"
    mkdir -p "$out_dir"
    if [ -e "$out_dir/$item.json" ]; then
      [ "$(probe_verdict "$item")" = final ] && [ ! -e "$out_dir/$item-final.json" ] || continue
    fi
  else
    out_dir=$raw
    [ -e "$raw/$item.json" ] && continue
    case "$variant" in ptplus | prefix | prompt | lora | full) [ -e "$raw/$model-$task-$kk-main.json" ] && continue ;; esac
  fi
  mkdir "$claims/$item" 2>/dev/null || continue
  # Full fine-tuning holds ~9 GiB (weights, gradients, AdamW moments, activations): two such runs beside each other
  # do not fit the 24 GiB machine, and the memory guard then refuses their seeds. One worker at a time trains it; the
  # others leave the item for a later pass.
  if [ "$variant" = full ] || [ "$variant" = main ]; then
    exec {full_lock}> "$home/full-ft.lock"
    if ! flock -n "$full_lock"; then
      exec {full_lock}>&-
      rmdir "$claims/$item"
      echo "== $item: another worker is training full fine-tuning (two do not fit in memory); left for a later pass" >&2
      continue
    fi
  fi
  k=${kk#k}
  steps=$(steps_for "$k")
  data=$(dataset_for "$model" "$task")
  labels=$(task_field "$task" nlabels)
  score_labels=true
  [ "$labels" -gt 6 ] && score_labels=false
  tune_val=$(( labels * 2 > 20 ? labels * 2 : 20 ))
  echo "== $item: $steps steps (worker $$, $(date +%T))" >&2
  start=$(date +%s)
  # quantizedBase=off: every result so far trained on the float32 base (the default until 2026-12-05); the quantized
  # base gives the same losses, but its peak memory and tokens/s differ, and a table mixes no modes.
  common=(--model "$(model_file "$model")" --data "$data" --eval-data "$tasks_dir/$task-test.jsonl" --eval-split 0
    --seeds "$seeds" --k-per-class "$k" --steps "$steps"
    --set maxLength=192 --set evalEvery=0 --set checkpointEvery=0 --set evalGenerate=true --set maxEvalExamples=1000
    --set scoreLabels=$score_labels --set quantizedBase=off --in-process --backend "$backend" --home "$home" "${methods[@]}")
  runs=()
  if [ -z "$probe_lr" ]; then
    runs+=("$item|--tune-lr --tune-val $tune_val $(if [ "$variant" = main ]; then grids ptplus prefix prompt lora full; else grids "$method"; fi)")
  else
    # The probe: that rate alone on the setting's validation split; then, if it wins, the seeds at it.
    [ -e "$out_dir/$item.json" ] || runs+=("$item|--tune-only --tune-val $tune_val --lr-grid $method=$probe_lr")
    runs+=("$item-final|--lr-per-method $method=$probe_lr")
  fi
  kept=true
  for entry in "${runs[@]}"; do
    name=${entry%%|*}
    read -ra extra <<< "${entry#*|}"
    if [ "$name" = "$item-final" ]; then
      [ "$(probe_verdict "$item")" = final ] || { echo "== $item: rate $probe_lr does not win the merged grid; its seeds are not run" >&2; break; }
    fi
    $prefixlab compare "${common[@]}" "${extra[@]}" --out "$out_dir/$name.json" > "$out_dir/$name.txt"
    # A comparison with a failed run (out of memory beside other work, say) is not a result: it would compare the
    # methods on different runs. Set it aside, release the claim, and leave the item for the next pass.
    failed=$(failed_runs "$out_dir/$name.json")
    if [ "$failed" -gt 0 ]; then
      mkdir -p "$home/failed"
      mv "$out_dir/$name.json" "$home/failed/$name.json"
      mv "$out_dir/$name.txt" "$home/failed/$name.txt"
      echo "== $item: $failed runs failed; set aside in $home/failed/, not kept (run the item again)" >&2
      kept=false
      break
    fi
  done
  [ -n "${full_lock:-}" ] && exec {full_lock}>&- && full_lock=
  if [ "$kept" = false ]; then rmdir "$claims/$item"; continue; fi
  echo "== $item done in $(( $(date +%s) - start )) s" >&2
done
