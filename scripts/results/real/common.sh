# Sourced by run.sh and zero_shot.sh: where the models are and how a task's file is imported for a model, so the
# training pool and the base model's test sample are always rendered with the same template.
# Needs: $prefixlab, $home, $cache, $tasks_dir.
model_file() { case "$1" in smollm2) echo "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" ;; gemma3) echo "$cache/gemma-3-270m-q4_k_m.gguf" ;; esac; }
task_field() { python3 -c "import json,sys; t=json.load(open('$tasks_dir/tasks.json'))['$1']; print(len(t['labels']) if '$2' == 'nlabels' else t['$2'])"; }

# import_task MODEL TASK FILE → the imported dataset's id. The instruct model answers in its chat template (system turn:
# the task's instruction); the base model (no chat template) reads a plain prompt.
import_task() {
  local model=$1 task=$2 file=$3 instruction
  instruction=$(task_field "$task" instruction)
  local template=(--template-prompt '{{text}}' --template-target ' {{label}}' --system "$instruction" --chat)
  [ "$model" = gemma3 ] && template=(--template-prompt "$instruction"$'\n\nText: {{text}}\nAnswer:' --template-target ' {{label}}')
  $prefixlab data import "$file" --task classification "${template[@]}" --model "$(model_file "$model")" --home "$home" --json |
    python3 -c "import json,sys; print(json.load(sys.stdin)['id'])"
}
