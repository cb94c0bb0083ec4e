"""PyTorch reference for PrefixLab's benchmarks: the same model shape, method and thread count on CPU.

Reads one JSON request on stdin ({task, shape: {name, config | path}, threads, ...}) and prints one JSON line.
Tasks: "generate" (transformers' generate with the KV cache, greedy) and "train" (a training step of the
given PEFT method with AdamW). Random weights for config shapes, as the TypeScript benchmark uses.
"""
import json
import resource
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def build_model(shape):
    if shape.get("path"):
        model = AutoModelForCausalLM.from_pretrained(shape["path"], torch_dtype=torch.float32)
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


def bench_train(req):
    import peft  # noqa: F401  (only the train task needs it)
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, get_peft_model

    model = build_model(req["shape"])
    method = req["method"]
    batch, seq = req["batch"], req["seqLen"]
    if method == "lora":
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=req.get("targets"), lora_dropout=0.0, task_type="CAUSAL_LM"))
    elif method == "prefix":
        model = get_peft_model(model, PrefixTuningConfig(num_virtual_tokens=req.get("p", 16), prefix_projection=True, encoder_hidden_size=req.get("encoderHidden", 512), task_type="CAUSAL_LM"))
    elif method == "prompt":
        model = get_peft_model(model, PromptTuningConfig(num_virtual_tokens=req.get("p", 16), task_type="CAUSAL_LM"))
    elif method == "full":
        pass
    else:
        return None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    ids = random_ids(batch * seq, model.config.vocab_size).view(batch, seq)

    def step():
        t = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t

    for _ in range(2):
        step()
    times = sorted(step() for _ in range(req.get("steps", 5)))
    ms = times[len(times) // 2] * 1000
    return {"name": f"torch {torch.__version__} {method}", "msPerStep": ms, "tokensPerSecond": batch * seq / (ms / 1000),
            "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main():
    req = json.loads(sys.stdin.read())
    torch.set_num_threads(int(req.get("threads", 1)))
    transformers.logging.set_verbosity_error()
    result = bench_generate(req) if req["task"] == "generate" else bench_train(req)
    if result is None:
        sys.exit(f"no PyTorch reference for {req.get('method')}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
