"""The torch engine (python/prefixlab_torch) against our own engine on stories260K.

One session fixture has the app write every hand-off (src/main/engine/torch/handoff.ts through
python/tests/make_torch_handoffs.ts) and, for the parity cases, train the same RunSpec with our engine, recording
its per-step losses. Then:
- parity: the torch engine's per-step training losses are within 1e-4 of ours for 20 steps, final accuracy equal,
  for PT+ (plain and phiCenter data-mean), LoRA (dropout 0), Prefix-Tuning, Prompt Tuning and full fine-tuning,
  and with evalGenerate the same greedy token ids for every eval example (result.json `generations`);
- data parallel: `accelerate launch --num_processes 2` (CPU, gloo) with global batch 8 ends 10 steps with the same
  trainable tensors as one process (<= 1e-5);
- resume: a run SIGKILLed after a checkpoint and resumed with --resume ends with the same adapter as an
  uninterrupted one.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PYTHON_DIR, REPO, SHARED, _tsx

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("accelerate")
from safetensors.torch import load_file  # noqa: E402

STORIES = SHARED / "models" / "stories260K-hf"
pytestmark = pytest.mark.skipif(not (STORIES / "model.safetensors").exists(), reason=f"{STORIES} is absent (set PREFIXLAB_SHARED)")

NAMES = ["Lily", "Tom", "Sam", "Mia", "Ben", "Anna", "Max", "Zoe", "Leo", "Ivy"]  # 20 rows: 16 train, 4 eval
PARITY = {
    "ptplus": {"name": "ptplus", "options": {}},
    "ptplus-centred": {"name": "ptplus", "options": {"phiCenter": "data-mean"}},
    "lora": {"name": "lora", "options": {"dropout": 0}},
    "prefix": {"name": "prefix", "options": {"numVirtualTokens": 4}},
    "prompt": {"name": "prompt", "options": {"numVirtualTokens": 4}},
    "full": {"name": "full", "options": {}},
}
# Full fine-tuning moves every weight: a smaller rate keeps its 20 steps in the same regime as the others.
RATES = {"full": 0.001}


def _spec(data: Path, method: dict, **trainer) -> dict:
    return {
        "model": {"path": str(STORIES)},
        "data": {"path": str(data), "split": {"evalSplit": 4}},
        "method": method,
        "seed": 3,
        "trainer": {"steps": 20, "batchSize": 4, "maxLength": 32, "evalEvery": 0, "checkpointEvery": 0, "learningRate": 0.01, **trainer},
    }


@pytest.fixture(scope="session")
def handoffs(tmp_path_factory):
    root = tmp_path_factory.mktemp("torch-engine")
    data = root / "weather.jsonl"
    rows = [row for n in NAMES for row in ({"text": f"{n} saw the sun.", "label": "happy"}, {"text": f"{n} saw the rain.", "label": "sad"})]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # evalGenerate on: both engines also generate greedily for the eval examples at the end (exact match).
    cases = [{"name": name, "reference": True, "runSpec": _spec(data, method, learningRate=RATES.get(name, 0.01), evalGenerate=True)} for name, method in PARITY.items()]
    # Data parallel: global batch 8, 10 steps; resume: 60 steps (room to kill it mid-run), a checkpoint every 3.
    cases.append({"name": "dp", "runSpec": _spec(data, PARITY["lora"], steps=10, batchSize=8)})
    cases.append({"name": "resume", "runSpec": _spec(data, PARITY["ptplus"], steps=60, checkpointEvery=3, keepCheckpoints=2)})
    (root / "cases.json").write_text(json.dumps(cases))
    out = root / "out"
    proc = subprocess.run([*_tsx(), str(PYTHON_DIR / "tests" / "make_torch_handoffs.ts"), str(root / "cases.json"), str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"make_torch_handoffs.ts failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())}
    failed = {k: v["error"] for k, v in results.items() if not v["ok"]}
    assert not failed, failed
    return out


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PYTHON_DIR), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _train(handoff: Path, run_dir: Path, *extra: str, nproc: int = 1, timeout: int = 600) -> subprocess.CompletedProcess:
    env = _env()
    if nproc == 1:
        cmd = [sys.executable, "-m", "prefixlab_torch.train"]
    else:
        # accelerate's torchrun path (--multi_gpu) also runs CPU ranks (gloo) when no GPU is present. Debian's torch
        # 1.13 under Python 3.11 cannot parse torchrun's default "0" for --redirects/--tee (Std.from_str returns
        # None), so both are set to 2 (stderr), which it parses; see python/prefixlab_torch/README.md.
        env["PET_REDIRECTS"] = "2"
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(nproc), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--tee", "2", "--log_dir", str(run_dir.parent / f"{run_dir.name}-logs"), "-m", "prefixlab_torch.train"]
    proc = subprocess.run([*cmd, "--handoff", str(handoff), "--run-dir", str(run_dir), *extra], cwd=PYTHON_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _metrics(run_dir: Path) -> list:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", list(PARITY))
def test_same_losses_as_our_engine(handoffs, tmp_path, case):
    reference = json.loads((handoffs / case / "reference.json").read_text())
    assert reference["status"] == "finished" and len(reference["losses"]) == 20
    run_dir = tmp_path / "run"
    _train(handoffs / case / "handoff", run_dir)
    ours = _metrics(run_dir)
    assert [m["step"] for m in ours] == list(range(1, 21))
    diffs = [abs(a - m["trainLoss"]) for a, m in zip(reference["losses"], ours)]
    assert max(diffs) <= 1e-4, f"{case}: per-step loss differences {diffs}"
    # The run actually learns (not 20 copies of the first loss).
    assert ours[-1]["trainLoss"] < ours[0]["trainLoss"] * 0.8
    for a, m in zip(reference["learningRates"], ours):
        assert m["learningRate"] == pytest.approx(a, rel=1e-6)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "finished" and result["steps"] == 20
    assert result["final"]["accuracy"] == reference["final"]["accuracy"]
    # evalGenerate: the same greedy token ids for every eval example as our engine's generate() from its adapter
    # (prompt encoded as generation.ts does, EOS and the new-token budget from the hand-off).
    expected = reference["generations"]
    assert [g["index"] for g in expected] == [0, 1, 2, 3]
    assert any(g["ids"] for g in expected), f"{case}: our engine generated nothing; the comparison would be empty"
    assert result["generations"] == expected, f"{case}: torch {result['generations']} vs ours {expected}"
    assert result["final"]["evalLoss"] == pytest.approx(reference["final"]["evalLoss"], abs=1e-4)
    # The final adapter is ours, tensor for tensor (names, shapes, values).
    ref_adapter = load_file(reference["adapter"])
    adapter = load_file(str(run_dir / "adapter.safetensors"))
    assert sorted(adapter) == sorted(ref_adapter)
    for name, value in ref_adapter.items():
        assert adapter[name].shape == value.shape
        assert torch.allclose(adapter[name], value, atol=2e-3, rtol=1e-2), name


def test_two_processes_train_the_same_tensors_as_one(handoffs, tmp_path):
    handoff = handoffs / "dp" / "handoff"
    assert all(len(step[0]) == 8 for step in json.loads((handoff / "batches.json").read_text())["steps"])
    _train(handoff, tmp_path / "one")
    _train(handoff, tmp_path / "two", nproc=2)
    one = load_file(str(tmp_path / "one" / "adapter.safetensors"))
    two = load_file(str(tmp_path / "two" / "adapter.safetensors"))
    assert sorted(one) == sorted(two)
    worst = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert worst <= 1e-5, f"largest difference {worst}"
    assert json.loads((tmp_path / "two" / "result.json").read_text())["processes"] == 2
    one_m, two_m = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert len(two_m) == 10
    assert max(abs(a["trainLoss"] - b["trainLoss"]) for a, b in zip(one_m, two_m)) <= 1e-5
    # The gradient before clipping is the same too (AdamW and clipping would hide a gradient off by a factor).
    for a, b in zip(one_m, two_m):
        assert b["gradNorm"] == pytest.approx(a["gradNorm"], rel=1e-5)


def test_resume_after_sigkill_ends_like_an_uninterrupted_run(handoffs, tmp_path):
    handoff = handoffs / "resume" / "handoff"
    _train(handoff, tmp_path / "straight")
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "prefixlab_torch.train", "--handoff", str(handoff), "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=PYTHON_DIR, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    try:
        # Kill it once it has a checkpoint past step 3, long before it finishes.
        while time.time() < deadline:
            if any(p.name >= "step-000006" for p in (run_dir / "checkpoints").glob("step-*")) if (run_dir / "checkpoints").exists() else False:
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not (run_dir / "result.json").exists(), "the run finished before the kill"
    steps_before = [m["step"] for m in _metrics(run_dir)]
    assert 6 <= max(steps_before) < 60
    _train(handoff, run_dir, "--resume")
    straight = load_file(str(tmp_path / "straight" / "adapter.safetensors"))
    resumed = load_file(str(run_dir / "adapter.safetensors"))
    for name, value in straight.items():
        assert torch.allclose(resumed[name], value, atol=1e-6), name
    # metrics.jsonl reads as one run: steps 1..12 once each, the same losses.
    assert [m["step"] for m in _metrics(run_dir)] == list(range(1, 61))
    for a, b in zip(_metrics(tmp_path / "straight"), _metrics(run_dir)):
        assert a["trainLoss"] == pytest.approx(b["trainLoss"], abs=1e-6)
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir() if not p.name.startswith("."))
    assert checkpoints == ["step-000057", "step-000060"]
    assert json.loads((run_dir / "result.json").read_text())["status"] == "finished"


def _handoff_without(handoffs: Path, tmp_path: Path, missing: str) -> Path:
    """A copy of the LoRA hand-off with one file left out."""
    broken = tmp_path / "handoff"
    broken.mkdir()
    for name in os.listdir(handoffs / "lora" / "handoff"):
        if name != missing:
            (broken / name).write_bytes((handoffs / "lora" / "handoff" / name).read_bytes())
    return broken


def _train_on(handoff: Path, run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prefixlab_torch.train", "--handoff", str(handoff), "--run-dir", str(run_dir)], cwd=PYTHON_DIR, env=_env(), capture_output=True, text=True, timeout=300)


def test_a_missing_handoff_file_is_one_line_naming_it(handoffs, tmp_path):
    broken = _handoff_without(handoffs, tmp_path, "batches.json")
    proc = _train_on(broken, tmp_path / "run")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken / "batches.json") in lines[0] and "missing" in lines[0], proc.stderr
    assert json.loads((tmp_path / "run" / "result.json").read_text())["status"] == "failed"


def test_a_missing_scoring_file_is_one_line_naming_it(handoffs, tmp_path):
    broken = _handoff_without(handoffs, tmp_path, "scoring-sequences.jsonl")
    assert (broken / "scoring.jsonl").exists()
    proc = _train_on(broken, tmp_path / "run")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken / "scoring-sequences.jsonl") in lines[0] and "missing" in lines[0], proc.stderr


@pytest.mark.skipif(int(torch.__version__.split(".")[0]) >= 2, reason="torch >= 2 reads GGUF through transformers")
def test_a_gguf_base_on_torch_below_2_is_one_line_saying_why(handoffs, tmp_path):
    handoff = tmp_path / "handoff"
    handoff.mkdir()
    for name in os.listdir(handoffs / "lora" / "handoff"):
        (handoff / name).write_bytes((handoffs / "lora" / "handoff" / name).read_bytes())
    info = json.loads((handoff / "model.json").read_text())
    info.update(path=str(REPO / "tests" / "fixtures" / "gguf" / "tiny" / "qwen2.gguf"), format="gguf")
    (handoff / "model.json").write_text(json.dumps(info))
    proc = subprocess.run([sys.executable, "-m", "prefixlab_torch.train", "--handoff", str(handoff), "--run-dir", str(tmp_path / "run")], cwd=PYTHON_DIR, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "torch >= 2.0" in lines[0] and "qwen2.gguf" in lines[0], proc.stderr


def test_sigterm_stops_after_the_step_with_a_checkpoint_and_status_cancelled(handoffs, tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "prefixlab_torch.train", "--handoff", str(handoffs / "resume" / "handoff"), "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=PYTHON_DIR, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not ((run_dir / "metrics.jsonl").exists() and len(_metrics(run_dir)) >= 2):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "cancelled" and 2 <= result["steps"] < 60
    assert result["reason"] == f"cancelled after step {result['steps']}"
    assert max(m["step"] for m in _metrics(run_dir)) == result["steps"]
    assert (run_dir / "checkpoints" / f"step-{result['steps']:06d}" / "adapter.safetensors").exists()
