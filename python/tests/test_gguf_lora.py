"""A LoRA trained by PrefixLab on a GGUF base (SmolLM2-135M-Instruct Q4_1, dequantized to float32 by our loader)
exports in PEFT format and loads with peft.PeftModel.from_pretrained over transformers' own GGUF-loaded model:
the last position's logits agree with the app's (parity.json, computed by our engine) within 2e-3, the tolerance
of our GGUF loader against transformers' (tests/fixtures/gguf/make_gguf_references.py).

The TS side (make_exports.ts) trains the adapter through `prefixlab train --model FILE.gguf` (3 steps at a high
learning rate, so the adapter moves the logits well past the tolerance) and exports it with `prefixlab`'s
exporter. transformers 4.49 on Debian's torch 1.13 cannot run `from_pretrained(dir, gguf_file=...)` (it builds the
model on the meta device), so the base is built with the same steps by make_gguf_references.load_model
(transformers' GGUF config and load_gguf_checkpoint). Skipped, with the reason, where the model cache is absent
(python3 scripts/models/fetch-models.py fetches it)."""

import json
import os
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import REPO, make_exports

TOLERANCE = 2e-3
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SIZE = 98_362_432
CACHE = Path(os.environ.get("PREFIXLAB_MODEL_CACHE") or Path.home() / ".cache" / "prefixlab" / "models")
MODEL = CACHE / MODEL_FILE

pytestmark = pytest.mark.skipif(
    not (MODEL.is_file() and MODEL.stat().st_size == MODEL_SIZE),
    reason=f"{MODEL_FILE} is not in {CACHE} (python3 scripts/models/fetch-models.py fetches it)",
)

REVIEWS = [
    ("I loved this film.", "positive"),
    ("What a waste of time.", "negative"),
    ("A warm, funny story.", "positive"),
    ("Dull and far too long.", "negative"),
    ("The cast is wonderful.", "positive"),
    ("I want my money back.", "negative"),
    ("Sweet and clever.", "positive"),
    ("Flat and lifeless.", "negative"),
]

CASE = {
    "name": "peft-lora-trained-smollm2-gguf",
    "fixture": str(MODEL),
    "method": "lora",
    "options": {"rank": 4, "alpha": 8},
    "format": "peft",
    # wasm: the pure-JS cpu backend is far too slow for a 135M-parameter training step.
    "backend": "wasm",
    "train": {
        "rows": [{"text": text, "label": label} for text, label in REVIEWS],
        "args": ["--steps", "3", "--lr", "0.02", "--eval-split", "2", "--seed", "1",
                 *[arg for s in ("batchSize=2", "maxLength=32", "warmupSteps=0", "evalEvery=0", "maxEvalExamples=2") for arg in ("--set", s)]],
    },
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    record = make_exports([CASE], tmp_path_factory.mktemp("gguf-exports"))[CASE["name"]]
    assert record["ok"], f"the app failed to train or export {CASE['name']}: {record.get('error')}"
    out = record["dir"]
    return out, json.loads((out / "parity.json").read_text())


@pytest.fixture(scope="module")
def base():
    sys.path.insert(0, str(REPO / "tests" / "fixtures" / "gguf"))
    from make_gguf_references import load_model

    return load_model(MODEL).eval()


def test_adapter_config_names_the_gguf_base(exported):
    out, parity = exported
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert config["base_model_name_or_path"] == str(MODEL)
    assert parity["baseModel"] == str(MODEL) and parity["architecture"] == "llama"


def test_trained_lora_loads_over_transformers_gguf_model_and_matches_the_app(exported, base):
    from peft import PeftModel

    out, parity = exported
    ids = torch.tensor(parity["inputs"])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        plain = base(input_ids=ids, attention_mask=mask).logits[:, -1:, :].clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base, str(out)).eval()
    assert [str(w.message) for w in caught if "missing" in str(w.message).lower() or "unexpected" in str(w.message).lower()] == []
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits[:, -1:, :]

    ours = torch.tensor(parity["logits"], dtype=torch.float32)
    if parity["positions"] == "all":
        ours = ours[:, -1:, :]
    assert logits.shape == ours.shape == (3, 1, 49_152)
    diff = (logits - ours).abs().max().item()
    assert diff <= TOLERANCE, f"max |transformers+PEFT - app| = {diff:.3g} > {TOLERANCE}"
    # The adapter is applied in both (not a no-op that would pass on the base's agreement alone).
    moved = (logits - plain).abs().max().item()
    assert moved > 20 * TOLERANCE, f"the trained LoRA moves the logits by only {moved:.3g}"
