"""Exports written by PrefixLab load in the real Python libraries and give the app's logits (max |diff| <= 1e-4):
PEFT adapters through peft.PeftModel.from_pretrained (no missing/unexpected-key warnings), merged models
through AutoModelForCausalLM.from_pretrained, and Prefix-Tuning+ exports through prefixlab_ptplus."""

import json
import warnings

import pytest
import torch
from conftest import FIXTURES, SHARED, make_exports

TOLERANCE = 1e-4

CASES = [
    *[
        case
        for fixture in ("llama-gqa", "gpt2", "gpt-neox")
        for case in (
            {"name": f"peft-lora-{fixture}", "fixture": fixture, "method": "lora", "options": {"rank": 4, "alpha": 8}, "format": "peft"},
            {"name": f"peft-prefix-{fixture}", "fixture": fixture, "method": "prefix", "options": {"numVirtualTokens": 3}, "format": "peft"},
            {"name": f"peft-prompt-{fixture}", "fixture": fixture, "method": "prompt", "options": {"numVirtualTokens": 4, "init": "random"}, "format": "peft"},
        )
    ],
    {"name": "peft-lora-all-linear-qwen2", "fixture": "qwen2", "method": "lora", "options": {"rank": 2, "alpha": 4, "targets": "all-linear", "rsLora": True}, "format": "peft"},
    {"name": "merged-lora-llama-gqa", "fixture": "llama-gqa", "method": "lora", "options": {"rank": 4, "alpha": 8, "targets": "all-linear"}, "format": "merged"},
    {"name": "merged-lora-gpt2", "fixture": "gpt2", "method": "lora", "options": {"rank": 4, "alpha": 8}, "format": "merged"},
    {"name": "merged-full-gpt-neox", "fixture": "gpt-neox", "method": "full", "options": {}, "format": "merged"},
    {"name": "ptplus-elu-pre-llama-gqa", "fixture": "llama-gqa", "method": "ptplus", "options": {}, "format": "ptplus"},
    {"name": "ptplus-mlp-gpt2", "fixture": "gpt2", "method": "ptplus", "options": {"featureMap": "mlp", "phiDim": 8}, "format": "ptplus"},
    {"name": "ptplus-mlp-llama-gqa", "fixture": "llama-gqa", "method": "ptplus", "options": {"featureMap": "mlp", "phiDim": 24}, "format": "ptplus"},
    {"name": "ptplus-post-rope-llama-gqa", "fixture": "llama-gqa", "method": "ptplus", "options": {"queryRope": "post"}, "format": "ptplus"},
    {"name": "ptplus-post-rope-gpt-neox", "fixture": "gpt-neox", "method": "ptplus", "options": {"queryRope": "post", "featureMap": "elu+1"}, "format": "ptplus"},
    {"name": "ptplus-data-mean-qwen2", "fixture": "qwen2", "method": "ptplus", "options": {"featureMap": "gelu", "phiCenter": "data-mean"}, "format": "ptplus"},
    {"name": "ptplus-data-mean-gpt-neox", "fixture": "gpt-neox", "method": "ptplus", "options": {"phiCenter": "data-mean", "layers": [1]}, "format": "ptplus"},
    {"name": "ptplus-cross-head-mistral", "fixture": "mistral", "method": "ptplus", "options": {"memory": "cross-head"}, "format": "ptplus"},
    {"name": "ptplus-normalised-llama-gqa", "fixture": "llama-gqa", "method": "ptplus", "options": {"featureMap": "elu+1", "variant": "normalised", "lambda": 0.7}, "format": "ptplus"},
]

STORIES = SHARED / "models"
if (STORIES / "stories260K-llama2c" / "stories260K.bin").exists() and (STORIES / "stories260K-hf").exists():
    # A real pretrained model (GQA, tied embeddings), as llama2.c checkpoint merged to an HF folder and as HF.
    CASES += [
        {"name": "merged-lora-stories260K-llama2c", "fixture": str(STORIES / "stories260K-llama2c" / "stories260K.bin"), "hf_base": str(STORIES / "stories260K-hf"), "method": "lora", "options": {"rank": 4, "targets": "all-linear"}, "format": "merged"},
        {"name": "peft-prefix-stories260K", "fixture": str(STORIES / "stories260K-hf"), "method": "prefix", "options": {"numVirtualTokens": 5}, "format": "peft"},
        {"name": "ptplus-post-rope-stories260K", "fixture": str(STORIES / "stories260K-hf"), "method": "ptplus", "options": {"queryRope": "post"}, "format": "ptplus"},
    ]


def by_format(fmt):
    return pytest.mark.parametrize("case", [c for c in CASES if c["format"] == fmt], ids=lambda c: c["name"])


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    return make_exports(CASES, tmp_path_factory.mktemp("exports"))


def exported(exports, case):
    record = exports[case["name"]]
    assert record["ok"], f"the app failed to export {case['name']}: {record.get('error')}"
    parity = json.loads((record["dir"] / "parity.json").read_text())
    assert parity["maxAbsDiff"] <= TOLERANCE
    return record["dir"], parity


def load_base(fixture):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(FIXTURES / fixture), torch_dtype=torch.float32).eval()


def assert_logits_match(logits, parity, skip=0):
    """logits [n, skip + T, V] from torch vs the app's [n, T|1, V] in parity.json."""
    logits = logits[:, skip:, :]
    if parity["positions"] == "last":
        logits = logits[:, -1:, :]
    expected = torch.tensor(parity["logits"], dtype=torch.float32)
    assert logits.shape == expected.shape
    diff = (logits.float() - expected).abs().max().item()
    assert diff <= TOLERANCE, f"max |torch - app| = {diff:.3g} > {TOLERANCE}"


def assert_adapter_changes_logits(logits, fixture, ids, skip=0):
    """Guards against an export that loads as a no-op: the adapted logits must move away from the base's."""
    with torch.no_grad():
        base = load_base(fixture)(input_ids=ids).logits
    assert (logits[:, skip:, :] - base).abs().max().item() > 1e-2


def key_warnings(caught):
    return [str(w.message) for w in caught if "missing" in str(w.message).lower() or "unexpected" in str(w.message).lower()]


# ---- PEFT ----


@by_format("peft")
def test_peft_adapter_loads_cleanly_and_matches_the_app(exports, case):
    from peft import PeftModel

    out, parity = exported(exports, case)
    config = json.loads((out / "adapter_config.json").read_text())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(load_base(case["fixture"]), str(out)).eval()
    assert key_warnings(caught) == []
    # load_adapter reports the keys it could not place (from_pretrained only warns about missing ones).
    # Prompt-learning tensors are loaded into the prompt encoder separately, so PEFT always lists its own
    # `prompt_embeddings` there, for adapters it saved itself too.
    result = model.load_adapter(str(out), adapter_name="again")
    allowed = {"prompt_embeddings"} if config["peft_type"] != "LORA" else set()
    assert list(result.missing_keys) == [] and set(result.unexpected_keys) <= allowed
    model.set_adapter("default")

    ids = torch.tensor(parity["inputs"])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    skip = config["num_virtual_tokens"] if config["peft_type"] == "PROMPT_TUNING" else 0
    assert_logits_match(logits, parity, skip)
    assert_adapter_changes_logits(logits, case["fixture"], ids, skip)


@by_format("peft")
def test_peft_tensor_names_and_shapes_equal_what_peft_itself_saves(exports, case):
    from peft import PeftConfig, get_peft_model, get_peft_model_state_dict
    from safetensors import safe_open
    from safetensors.torch import load_file

    out, _ = exported(exports, case)
    fresh = get_peft_model(load_base(case["fixture"]), PeftConfig.from_pretrained(str(out)))
    reference = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(fresh).items()}
    ours = {k: tuple(v.shape) for k, v in load_file(str(out / "adapter_model.safetensors")).items()}
    assert ours == reference
    with safe_open(str(out / "adapter_model.safetensors"), framework="pt") as fh:
        assert fh.metadata() == {"format": "pt"}


# ---- merged ----


@by_format("merged")
def test_merged_model_loads_with_every_weight_and_matches_the_app(exports, case):
    from transformers import AutoModelForCausalLM

    out, parity = exported(exports, case)
    model, info = AutoModelForCausalLM.from_pretrained(str(out), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    ids = torch.tensor(parity["inputs"])
    with torch.no_grad():
        logits = model.eval()(input_ids=ids).logits
    assert_logits_match(logits, parity)
    assert_adapter_changes_logits(logits, case.get("hf_base", case["fixture"]), ids)


# ---- Prefix-Tuning+ ----


@by_format("ptplus")
def test_ptplus_loader_matches_the_app(exports, case):
    out, parity = exported(exports, case)
    assert_ptplus_matches_the_app(out, parity, case["fixture"])


def assert_ptplus_matches_the_app(out, parity, fixture):
    """The export through prefixlab_ptplus: the app's logits, with and without the KV cache, and detachable."""
    from prefixlab_ptplus import detach_ptplus, load_ptplus

    model = load_ptplus(load_base(fixture), str(out))
    ids = torch.tensor(parity["inputs"])
    with torch.no_grad():
        full = model(input_ids=ids).logits
        assert_logits_match(full, parity)
        assert_adapter_changes_logits(full, fixture, ids)
        # Decoding with the KV cache gives the same last-token logits as the full forward.
        first = model(input_ids=ids[:, :-1], use_cache=True)
        step = model(input_ids=ids[:, -1:], past_key_values=first.past_key_values, use_cache=True).logits
        assert (step[:, -1] - full[:, -1]).abs().max().item() <= TOLERANCE
        # generate() runs with the hooks and the KV cache (synced_gpus=False keeps it from importing FSDP,
        # which fails on Debian's torch 1.13 under Python 3.11).
        generated = model.generate(ids[:1], max_new_tokens=3, do_sample=False, pad_token_id=0, synced_gpus=False)
        assert generated.shape == (1, ids.shape[1] + 3)
        # Detaching gives the base model back.
        base = load_base(fixture)(input_ids=ids).logits
        assert (detach_ptplus(model)(input_ids=ids).logits - base).abs().max().item() == 0


def test_ptplus_loader_refuses_a_model_of_another_shape(exports):
    from prefixlab_ptplus import load_ptplus

    case = next(c for c in CASES if c["name"] == "ptplus-elu-pre-llama-gqa")
    out, _ = exported(exports, case)
    with pytest.raises(ValueError, match="export is for a llama model but this model is gpt2"):
        load_ptplus(load_base("gpt2"), str(out))
    from transformers import LlamaConfig, LlamaForCausalLM

    eight_heads = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=4, vocab_size=384))
    with pytest.raises(ValueError, match="the export has 4 heads of size 16, the model 8 of size 8"):
        load_ptplus(eight_heads, str(out))


def test_ptplus_state_dict_names_follow_the_export(exports):
    from prefixlab_ptplus import load_ptplus
    from safetensors.torch import load_file

    case = next(c for c in CASES if c["name"] == "ptplus-mlp-llama-gqa")
    out, _ = exported(exports, case)
    model = load_ptplus(load_base(case["fixture"]), str(out))
    state = model.state_dict()
    for key, value in load_file(str(out / "adapter_model.safetensors")).items():
        assert torch.equal(state[key[len("base_model.model."):]], value)
