"""PEFT exports on the Phi-3 and Qwen3 fixtures load in the real PEFT and give the app's logits (max |diff| <= 1e-4):
Phi-3's LoRA targets its fused qkv_proj (all-linear: gate_up_proj too), as PrefixLab's default for the family;
Prefix and Prompt Tuning run through transformers' Phi3 attention with longrope. Qwen3 needs transformers >= 4.51
(the repo venv has 4.49): its cases run only where the installed transformers has Qwen3, and say so otherwise.
Prefix-Tuning+ exports on Phi-3 (fused qkv_proj), Qwen3 and Gemma 3 (queries after the layer's q_norm) load through
prefixlab_ptplus with the app's logits; Qwen3 and Gemma 3 cases need transformers >= 4.51 / 4.50, like the above."""

import os

import pytest
import torch
import transformers
from conftest import make_exports
from test_interop import assert_adapter_changes_logits, assert_logits_match, assert_ptplus_matches_the_app, exported, key_warnings, load_base

HAS_QWEN3 = hasattr(transformers, "Qwen3ForCausalLM")
HAS_GEMMA3 = hasattr(transformers, "Gemma3ForCausalLM")

CASES = [
    {"name": "peft-lora-phi3-longrope", "fixture": "phi3-longrope", "method": "lora", "options": {"rank": 4, "alpha": 8}, "format": "peft"},
    {"name": "peft-lora-all-linear-phi3-longrope-short", "fixture": "phi3-longrope-short", "method": "lora", "options": {"rank": 2, "alpha": 4, "targets": "all-linear"}, "format": "peft"},
    {"name": "peft-prefix-phi3-longrope", "fixture": "phi3-longrope", "method": "prefix", "options": {"numVirtualTokens": 3}, "format": "peft"},
    {"name": "peft-prompt-phi3-longrope-short", "fixture": "phi3-longrope-short", "method": "prompt", "options": {"numVirtualTokens": 4, "init": "random"}, "format": "peft"},
]
QWEN3_CASES = [
    {"name": "peft-lora-qwen3", "fixture": "qwen3", "method": "lora", "options": {"rank": 4, "alpha": 8}, "format": "peft"},
    {"name": "peft-lora-all-linear-qwen3-sliding-window", "fixture": "qwen3-sliding-window", "method": "lora", "options": {"rank": 2, "targets": "all-linear"}, "format": "peft"},
]
if HAS_QWEN3:
    CASES += QWEN3_CASES

PTPLUS_CASES = [{"name": "ptplus-phi3-longrope", "fixture": "phi3-longrope", "method": "ptplus", "options": {}, "format": "ptplus"}]
if HAS_QWEN3:
    PTPLUS_CASES.append({"name": "ptplus-post-rope-qwen3", "fixture": "qwen3", "method": "ptplus", "options": {"queryRope": "post"}, "format": "ptplus"})
if HAS_GEMMA3:
    PTPLUS_CASES.append({"name": "ptplus-gelu-gemma3", "fixture": "gemma3", "method": "ptplus", "options": {"featureMap": "gelu"}, "format": "ptplus"})

EXPECTED_TARGETS = {
    "peft-lora-phi3-longrope": ["qkv_proj"],
    "peft-lora-all-linear-phi3-longrope-short": ["down_proj", "gate_up_proj", "o_proj", "qkv_proj"],
    "peft-lora-qwen3": ["q_proj", "v_proj"],
    "peft-lora-all-linear-qwen3-sliding-window": ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"],
}


@pytest.fixture(scope="session")
def family_exports(tmp_path_factory):
    # PREFIXLAB_INTEROP_EXPORTS reuses test_interop.py's exports, which do not hold these cases.
    reuse = os.environ.pop("PREFIXLAB_INTEROP_EXPORTS", None)
    try:
        return make_exports(CASES + PTPLUS_CASES, tmp_path_factory.mktemp("family-exports"))
    finally:
        if reuse is not None:
            os.environ["PREFIXLAB_INTEROP_EXPORTS"] = reuse


def test_qwen3_cases_need_transformers_with_qwen3():
    if not HAS_QWEN3:
        pytest.skip(f"transformers {transformers.__version__} has no Qwen3 (needs >= 4.51); qwen3 export cases not run")


def test_gemma3_cases_need_transformers_with_gemma3():
    if not HAS_GEMMA3:
        pytest.skip(f"transformers {transformers.__version__} has no Gemma 3 (needs >= 4.50); gemma3 PT+ case not run")


@pytest.mark.parametrize("case", PTPLUS_CASES, ids=lambda c: c["name"])
def test_ptplus_loader_matches_the_app_on_the_family(family_exports, case):
    out, parity = exported(family_exports, case)
    assert_ptplus_matches_the_app(out, parity, case["fixture"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_peft_loads_the_family_export_and_matches_the_app(family_exports, case):
    from peft import PeftConfig, PeftModel, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import load_file
    import json
    import warnings

    out, parity = exported(family_exports, case)
    config = json.loads((out / "adapter_config.json").read_text())
    if case["name"] in EXPECTED_TARGETS:
        assert sorted(config["target_modules"]) == EXPECTED_TARGETS[case["name"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(load_base(case["fixture"]), str(out)).eval()
    assert key_warnings(caught) == [], key_warnings(caught)

    # The tensor names and shapes are those PEFT itself saves for this config on this model.
    fresh = get_peft_model(load_base(case["fixture"]), PeftConfig.from_pretrained(str(out)))
    reference = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(fresh).items()}
    assert {k: tuple(v.shape) for k, v in load_file(str(out / "adapter_model.safetensors")).items()} == reference

    ids = torch.tensor(parity["inputs"])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    skip = config["num_virtual_tokens"] if config["peft_type"] == "PROMPT_TUNING" else 0
    assert_logits_match(logits, parity, skip)
    assert_adapter_changes_logits(logits, case["fixture"], ids, skip)
