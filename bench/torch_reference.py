"""PyTorch reference for PrefixLab's benchmarks: the same model shape, method and thread count on CPU.

Reads one JSON request on stdin ({task, shape: {name, config | path}, threads, ...}) and prints one JSON line.
Tasks: "generate" (transformers' generate with the KV cache, greedy) and "train" (a training step of the
given PEFT method with AdamW). Random weights for config shapes, as the TypeScript benchmark uses; a GGUF file
through transformers' own GGUF loader (dequantized to float32, as a PyTorch user would load it).
"""
import json
import os
import resource
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def rss_bytes():
    """Resident set size now (Linux), the figure our side samples between steps."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_model(shape):
    path = shape.get("path")
    if path and path.endswith(".gguf"):
        model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), torch_dtype=torch.float32)
    elif path:
        model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
    else:
        config = AutoConfig.for_model(**shape["config"])
        torch.manual_seed(1)
        model = AutoModelForCausalLM.from_config(config)
    return model.float()


def random_ids(count, vocab, seed=7):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (1, count), generator=g)


def bench_generate(req):
    model = build_model(req["shape"]).eval()
    vocab = model.config.vocab_size
    prompt = random_ids(req["promptTokens"], vocab)
    new = req["newTokens"]

    def run(n):
        t = time.perf_counter()
        with torch.no_grad():
            # synced_gpus=False: otherwise transformers 4.49 imports torch.distributed.fsdp, which breaks on torch 1.13.
            model.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0, synced_gpus=False)
        return time.perf_counter() - t

    run(2)
    prefill = run(1)
    full = run(new + 1)
    return {"name": f"torch {torch.__version__} generate", "tokensPerSecond": new / max(full - prefill, 1e-9)}


def attach_ptplus(model, req):
    """PT+ through the project's own loader (python/prefixlab_ptplus): a zero-memory export, then the memories trainable."""
    import os
    import tempfile

    from safetensors.torch import save_file

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from prefixlab_ptplus import load_ptplus

    cfg = model.config
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    model_type = cfg.model_type
    if model_type == "gpt2":
        paths = [f"transformer.h.{i}.attn" for i in range(cfg.num_hidden_layers)]
    elif model_type == "gpt_neox":
        paths = [f"gpt_neox.layers.{i}.attention" for i in range(cfg.num_hidden_layers)]
    else:
        paths = [f"model.layers.{i}.self_attn" for i in range(cfg.num_hidden_layers)]
    per_head = req.get("perHead", True)
    shape = (heads, head_dim, head_dim) if per_head else (heads * head_dim, heads * head_dim)
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "adapter_config.json"), "w") as fh:
            json.dump({"peft_type": "PREFIX_TUNING_PLUS", "feature_map": req.get("featureMap", "elu"), "phi_dim": head_dim,
                       "query_rope": "pre", "per_head": per_head, "variant": "plain", "phi_center": "none",
                       "layers": list(range(len(paths))), "num_layers": len(paths), "num_attention_heads": heads,
                       "head_dim": head_dim, "model_type": model_type}, fh)
        save_file({f"base_model.model.{p}.ptplus_memory": torch.zeros(shape) for p in paths}, os.path.join(folder, "adapter_model.safetensors"))
        load_ptplus(model, folder)
    model.requires_grad_(False)
    for state in model._ptplus_states:
        state.attn.ptplus_memory.requires_grad_(True)
    return model


def bench_train(req):
    import peft  # noqa: F401  (only the train task needs it)
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, get_peft_model

    model = build_model(req["shape"])
    method = req["method"]
    batch, seq = req["batch"], req["seqLen"]
    if method == "lora":
        model = get_peft_model(model, LoraConfig(r=req.get("rank", 8), lora_alpha=req.get("alpha", 16), target_modules=req.get("targets"),
                                                 lora_dropout=req.get("dropout", 0.0), task_type="CAUSAL_LM"))
    elif method == "prefix":
        model = get_peft_model(model, PrefixTuningConfig(num_virtual_tokens=req.get("p", 16), prefix_projection=req.get("projection", True),
                                                         encoder_hidden_size=req.get("encoderHidden", 512), task_type="CAUSAL_LM"))
    elif method == "prompt":
        model = get_peft_model(model, PromptTuningConfig(num_virtual_tokens=req.get("p", 16), task_type="CAUSAL_LM"))
    elif method == "ptplus":
        model = attach_ptplus(model, req)
    elif method == "full":
        pass
    else:
        return None
    model.train()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Dropout) and "lora_dropout" not in name:
            module.p = 0.0  # the base model's own dropout (GPT-2's pdrop): PrefixLab's models have none
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    ids = random_ids(batch * seq, model.config.vocab_size).view(batch, seq)
    labels = ids.clone()
    labels[:, : req.get("targetStart", 0)] = -100  # the loss on the target half only, as the TypeScript benchmark

    peak_rss = rss_bytes()

    def step():
        nonlocal peak_rss
        t = time.perf_counter()
        out = model(input_ids=ids, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - t
        peak_rss = max(peak_rss, rss_bytes())
        return elapsed

    for _ in range(2):
        step()
    times = sorted(step() for _ in range(req.get("steps", 5)))
    ms = times[len(times) // 2] * 1000
    # peakRssBytes: sampled between steps like our side's; processMaxRssBytes: the high-water mark, loading included.
    return {"name": f"torch {torch.__version__} {method}", "msPerStep": ms, "tokensPerSecond": batch * seq / (ms / 1000),
            "peakRssBytes": peak_rss, "processMaxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main():
    req = json.loads(sys.stdin.read())
    threads = int(req.get("threads", 1))
    # torch.set_num_threads does not reach OpenBLAS's pthread pool: it is sized from the environment when the
    # library loads, so the caller must set it (bench/torch-reference.ts does) or the GEMMs use every core.
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(threads):
        sys.exit(f"OPENBLAS_NUM_THREADS must be {threads} (set before Python starts) for a {threads}-thread reference")
    # With an external BLAS (Debian's "generic" BLAS_INFO is OpenBLAS through libblas.so.3) the GEMMs take the
    # threads and torch's own ops run on one: OpenMP threads on top of OpenBLAS's oversubscribe the cores.
    # With MKL, torch's count sizes both.
    uses_mkl = "blas_info=mkl" in torch.__config__.show().lower()
    torch.set_num_threads(threads if uses_mkl else 1)
    transformers.logging.set_verbosity_error()
    result = bench_generate(req) if req["task"] == "generate" else bench_train(req)
    if result is None:
        sys.exit(f"no PyTorch reference for {req.get('method')}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
