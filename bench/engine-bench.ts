// `npm run bench -- train --engine torch,tfjs`: the same RunSpec (model, method, batch 8, T tokens per row, seed)
// on both engines: ours (tfjs, in this process, TF_NUM_INTRAOP_THREADS = --threads) and the torch engine
// (python/prefixlab_torch from the hand-off engine/torch/handoff.ts writes, `--threads N` → torch.set_num_threads,
// BLAS pools sized N through the environment as torch-reference.ts does). Both are timed from the engine's own
// metrics.jsonl (tokensPerSecond over its last 10 steps and tokensSeen give each step's time back); the first
// WARMUP_STEPS steps are dropped as the train bench drops them. The data is a generated prompt → completion file
// whose every example encodes (our encoder, our truncation) to exactly T tokens, the last ~T/2 the target.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunSpec, RunSpecInput } from '../src/shared/run-spec';
import type { BackendName } from '../src/main/engine/backend';
import { initBackend, probeBackends } from '../src/main/engine/backend';
import { loadTokenizer } from '../src/main/engine/io/load-model';
import type { TextTokenizer } from '../src/main/engine/io/tokenizer';
import { encodeExample } from '../src/main/engine/train/encode';
import { parseRunSpec } from '../src/main/engine/train/run-spec';
import { writeTorchHandoff } from '../src/main/engine/torch/handoff';
import { RunsStore } from '../src/main/registry/runs-store';
import { train } from '../src/main/services/training/train';
import { engineEnv, enginePythonPath } from '../src/main/services/training/torch-engine/python-env';
import { referenceEnv } from './reference-env';
import { SHAPES } from './shapes';
import { BATCH } from './train-bench';
import { fmt, median, printTable, writeJson } from './report';
import { machineInfo } from './machine';

export const WARMUP_STEPS = 2;
export const TIMED_STEPS = 5;
/** Both engines report tokensPerSecond over their last 10 steps (trainer.ts THROUGHPUT_WINDOW, train.py `recent`). */
export const THROUGHPUT_WINDOW = 10;
const TORCH_TIMEOUT_MS = 30 * 60_000;
const repoRoot = resolve(import.meta.dirname, '..');

export type EngineName = 'tfjs' | 'torch';

export interface EngineRow {
  engine: EngineName;
  /** tfjs: its backend; torch: "torch <version>" and the device. */
  backend: string;
  shape: string;
  method: string;
  seqLen: number;
  batch: number;
  threads: number;
  msPerStep: number;
  tokensPerSecond: number;
  /** Every step's time in ms, warm-up steps included (the first WARMUP_STEPS are not in msPerStep). */
  stepMs: number[];
  warmupSteps: number;
  trainLoss: number[];
}

export interface EngineFailure {
  engine: EngineName;
  shape: string;
  method: string;
  seqLen: number;
  error: string;
}

interface MetricPoint {
  step: number;
  tokensSeen: number;
  tokensPerSecond: number;
  trainLoss: number;
}

/**
 * Each step's ms and tokens from an engine's metrics (steps 1…N in order): tokensPerSecond at step k is the
 * tokens of its window (the last `window` steps) over their summed ms, so that sum is W_k = tokens / tps, and
 * step k took W_k − W_{k−1} plus the step that left the window.
 */
export function stepTimesFromMetrics(points: Pick<MetricPoint, 'step' | 'tokensSeen' | 'tokensPerSecond'>[], window = THROUGHPUT_WINDOW): { ms: number[]; tokens: number[] } {
  const ms: number[] = [];
  const tokens: number[] = [];
  let previousWindowMs = 0;
  points.forEach((p, i) => {
    if (p.step !== i + 1) throw new Error(`metrics: step ${p.step} where step ${i + 1} was expected (a resumed or torn run cannot be timed)`);
    if (!(p.tokensPerSecond > 0)) throw new Error(`metrics: step ${p.step} has tokensPerSecond ${p.tokensPerSecond}`);
    tokens.push(p.tokensSeen - (i > 0 ? points[i - 1].tokensSeen : 0));
    const windowTokens = tokens.slice(Math.max(0, i + 1 - window)).reduce((a, b) => a + b, 0);
    const windowMs = (windowTokens / p.tokensPerSecond) * 1000;
    ms.push(windowMs - previousWindowMs + (i >= window ? ms[i - window] : 0));
    previousWindowMs = windowMs;
  });
  return { ms, tokens };
}

/** A row's figures from an engine's metrics: median step time after the warm-up steps, tokens/s at that time. */
export function summariseMetrics(points: MetricPoint[], warmupSteps = WARMUP_STEPS): Pick<EngineRow, 'msPerStep' | 'tokensPerSecond' | 'stepMs' | 'warmupSteps' | 'trainLoss'> {
  if (points.length <= warmupSteps) throw new Error(`metrics: ${points.length} step(s), none left after ${warmupSteps} warm-up step(s)`);
  const { ms, tokens } = stepTimesFromMetrics(points);
  const timedTokens = tokens.slice(warmupSteps);
  const msPerStep = median(ms.slice(warmupSteps));
  const tokensPerStep = timedTokens.reduce((a, b) => a + b, 0) / timedTokens.length;
  return { msPerStep, tokensPerSecond: tokensPerStep / (msPerStep / 1000), stepMs: ms, warmupSteps, trainLoss: points.map((p) => p.trainLoss) };
}

const WORDS = 'the a cat dog sun rain tree bird fish red blue green big small happy sad ran sat saw was and then home park day night'.split(' ');

/**
 * `count` prompt → completion rows that our encoder turns into exactly `seqLen` tokens each: a completion of about
 * seqLen/2 tokens and a prompt long enough to be cut (truncation keeps the target and the prompt's tail).
 */
export function engineDatasetRows(tokenizer: Pick<TextTokenizer, 'encode' | 'bosTokenId' | 'eosTokenId'>, seqLen: number, count: number): { prompt: string; completion: string }[] {
  let state = 12345;
  const word = () => WORDS[(state = (state * 1664525 + 1013904223) >>> 0) % WORDS.length];
  const rows: { prompt: string; completion: string }[] = [];
  for (let i = 0; i < count; i++) {
    let completion = '';
    while (tokenizer.encode(completion, { addSpecialTokens: false }).length < Math.floor(seqLen / 2)) completion += ` ${word()}`;
    let prompt = `Story ${i}:`;
    while (tokenizer.encode(prompt).length < seqLen) prompt += ` ${word()}`;
    const encoded = encodeExample(tokenizer as TextTokenizer, { prompt, target: completion }, i, { maxLength: seqLen, addEos: true });
    if (encoded.ids.length !== seqLen) throw new Error(`bench data: example ${i} encodes to ${encoded.ids.length} tokens, not ${seqLen}`);
    rows.push({ prompt, completion });
  }
  return rows;
}

/** The RunSpec both engines run: batch 8, T tokens, the method's defaults, no evaluation or checkpoints in between. */
export function engineRunSpec(engine: EngineName, modelPath: string, dataPath: string, method: string, seqLen: number): RunSpec {
  return parseRunSpec({
    engine,
    model: { path: modelPath },
    data: { path: dataPath, split: { evalSplit: 0 } },
    method: { name: method },
    trainer: { steps: WARMUP_STEPS + TIMED_STEPS, batchSize: BATCH, maxLength: seqLen, warmupSteps: 0, evalEvery: 0, checkpointEvery: 0 },
    seed: 1,
  } as RunSpecInput);
}

function readMetricsFile(path: string): MetricPoint[] {
  if (!existsSync(path)) throw new Error(`${path}: no metrics were written`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricPoint);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const tail = String(stderr).trim().split('\n').slice(-3).join(' / ');
        reject(new Error(`${command} ${args.slice(0, 2).join(' ')} failed (${err.killed ? 'timed out' : `exit ${String(err.code)}`}): ${tail}`));
      } else resolvePromise(String(stdout));
    });
  });
}

/** The torch engine's environment: its package on PYTHONPATH, BLAS pools of `threads` (they ignore set_num_threads). */
export function torchEngineEnv(threads: number): NodeJS.ProcessEnv {
  const n = String(threads);
  return engineEnv(referenceEnv({ OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n, OMP_NUM_THREADS: n }), enginePythonPath(repoRoot));
}

export function defaultEnginePython(): string {
  return process.env.PREFIXLAB_PYTHON || join(repoRoot, '.venv', 'bin', 'python');
}

async function torchRow(python: string, spec: RunSpec, work: string, threads: number): Promise<Pick<EngineRow, 'backend'> & ReturnType<typeof summariseMetrics>> {
  const handoff = join(work, 'handoff');
  const runDir = join(work, 'run');
  await writeTorchHandoff(spec, handoff);
  const env = torchEngineEnv(threads);
  const versions = (
    await run(
      python,
      ['-c', "import torch, transformers; print(f\"torch {torch.__version__} + transformers {transformers.__version__}, {'cuda' if torch.cuda.is_available() else 'cpu'}\")"],
      env,
      120_000,
    )
  ).trim();
  await run(python, ['-m', 'prefixlab_torch.train', '--handoff', handoff, '--run-dir', runDir, '--threads', String(threads)], env, TORCH_TIMEOUT_MS);
  const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as { status: string; reason?: string };
  if (result.status !== 'finished') throw new Error(`torch engine: ${result.status}${result.reason ? `: ${result.reason}` : ''}`);
  return { backend: versions, ...summariseMetrics(readMetricsFile(join(runDir, 'metrics.jsonl'))) };
}

async function tfjsRow(home: string, spec: RunSpec, backend: BackendName): Promise<ReturnType<typeof summariseMetrics>> {
  const result = await train({ home, spec, backend, isolate: 'inline', registerAdapter: false });
  if (result.status !== 'finished') throw new Error(`tfjs engine: ${result.status}${result.reason ? `: ${result.reason}` : ''}`);
  return summariseMetrics(new RunsStore(home).readMetrics(result.runId) as MetricPoint[]);
}

export async function runEngineBench(opts: {
  engines: string[];
  backends: BackendName[];
  shapes: string[];
  methods: string[];
  seqs: number[];
  threads: number;
  python?: string;
  json?: string;
}): Promise<{ rows: EngineRow[]; failed: EngineFailure[] }> {
  for (const e of opts.engines) if (e !== 'tfjs' && e !== 'torch') throw new Error(`--engine ${e}: use tfjs, torch or torch,tfjs`);
  const engines = opts.engines as EngineName[];
  const methods = opts.methods.length ? opts.methods : ['lora', 'ptplus'];
  const seqs = opts.seqs.length ? opts.seqs : [64];
  const shapes = SHAPES.filter((s) => (opts.shapes.length ? opts.shapes.includes(s.name) : s.name === 'stories260K'));
  for (const s of shapes) if (!s.path) throw new Error(`--shape ${s.name}: the engine comparison needs a real model (a folder or GGUF with a tokenizer), not a random-init shape`);
  const available = new Set((await probeBackends()).filter((b) => b.available).map((b) => b.name));
  const backend = opts.backends.find((b) => available.has(b));
  if (engines.includes('tfjs') && !backend) throw new Error(`none of the backends ${opts.backends.join(', ')} is available`);
  // The torch hand-off loads the model with tfjs too (our encoder, initial tensors): a backend must be ready first.
  await initBackend(backend ?? 'cpu');
  const python = opts.python ?? defaultEnginePython();
  const rows: EngineRow[] = [];
  const failed: EngineFailure[] = [];
  const work = mkdtempSync(join(tmpdir(), 'prefixlab-engine-bench-'));
  try {
    for (const shape of shapes) {
      if (!existsSync(shape.path!)) throw new Error(`${shape.path}: the ${shape.name} model is absent (python3 scripts/models/fetch-models.py)`);
      const { tokenizer } = await loadTokenizer(shape.path!);
      if (!tokenizer) throw new Error(`${shape.path}: the model has no tokenizer to encode the bench data with`);
      for (const seqLen of seqs) {
        const dataPath = join(work, `${shape.name}-${seqLen}.jsonl`);
        const data = engineDatasetRows(tokenizer, seqLen, BATCH * (WARMUP_STEPS + TIMED_STEPS));
        writeFileSync(dataPath, data.map((r) => JSON.stringify(r)).join('\n') + '\n');
        for (const method of methods) {
          for (const engine of engines) {
            const label = `${shape.name} · ${engine} · T ${seqLen} · ${method}`;
            const dir = join(work, `${shape.name}-${seqLen}-${method}-${engine}`);
            mkdirSync(dir, { recursive: true });
            try {
              const spec = engineRunSpec(engine, shape.path!, dataPath, method, seqLen);
              const measured = engine === 'torch' ? await torchRow(python, spec, dir, opts.threads) : { backend: backend!, ...(await tfjsRow(dir, spec, backend!)) };
              rows.push({ engine, shape: shape.name, method, seqLen, batch: BATCH, threads: opts.threads, ...measured });
              console.error(`  ${label}: ${measured.msPerStep.toFixed(1)} ms/step`);
            } catch (err) {
              const error = err instanceof Error ? err.message : String(err);
              failed.push({ engine, shape: shape.name, method, seqLen, error });
              console.error(`  ${label}: not measured: ${error}`);
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          }
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  printTable(
    rows.map((r) => ({ ...r })),
    [
      { key: 'shape', label: 'shape' },
      { key: 'engine', label: 'engine' },
      { key: 'backend', label: 'backend' },
      { key: 'seqLen', label: 'T' },
      { key: 'method', label: 'method' },
      { key: 'msPerStep', label: 'ms/step', format: fmt.num(1) },
      { key: 'tokensPerSecond', label: 'tok/s', format: fmt.num(0) },
    ],
  );
  writeJson(opts.json ?? 'bench-results/train-engines.json', { machine: machineInfo(), threads: opts.threads, rows, failed });
  return { rows, failed };
}
