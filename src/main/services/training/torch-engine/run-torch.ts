// One run on the torch engine (python/prefixlab_torch, launched through accelerate): writes the hand-off
// (engine/torch/handoff.ts), records the run in the registry like our engine's runs (manifest with the RunSpec,
// engine "torch"), starts Python, turns its metrics.jsonl into the same progress events, cancels with SIGTERM
// (SIGKILL after a grace), and on exit reads result.json: final metrics, exact match of its greedy generations
// decoded with our tokenizer, checkpoints. The run folder is Python's --run-dir, so its checkpoints and final
// adapter are where `runs`, `adapters` and `export` look.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { FinalMetricsSchema, type FinalMetrics, type RunManifest, type TrainProgress, type TrainResult } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import type { RunSpec } from '@shared/run-spec';
import { trainerOptions } from '@shared/trainer-options';
import { readBoundedText } from '../../../engine/io/bounded-read';
import { loadTokenizer, readModelHeader } from '../../../engine/io/load-model';
import { SafetensorsReader } from '../../../engine/io/safetensors';
import { normaliseAnswer } from '../../../engine/eval/generation';
import { getMethod } from '../../../engine/methods/registry';
import { listCheckpoints } from '../../../engine/train/checkpoint';
import { parseOptions } from '../../../engine/train/config';
import { parseRunSpec } from '../../../engine/train/run-spec';
import { datasetFingerprint, modelFingerprint, readEvalExamples, readExamples, sha256File, type Example } from '../../../engine/train/sources';
import { writeFileAtomic } from '../../../platform/atomic-write';
import { processStartTime } from '../../../platform/process-identity';
import { RunsStore } from '../../../registry/runs-store';
import type { RunHooks } from '../run-process';
import { buildLaunchCommand, checkAccelerateConfig, checkNproc } from './launch-command';
import { MetricsTail, toProgress } from './metrics-tail';
import { engineEnv, enginePythonPath, requireTorchPython, type PythonReport } from './python-env';

/** How the torch engine is started (CLI flags `--python`, `--nproc`, `--accelerate-config`; not part of the RunSpec). */
export interface TorchEngineOptions {
  python?: string;
  nproc?: number;
  accelerateConfig?: string;
  /** SIGTERM → SIGKILL after this long (default 60 s: the current step, a checkpoint). */
  graceMs?: number;
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Where python/prefixlab_torch lives (default: this checkout's python/ folder). */
  pythonPath?: string | null;
}

/** What writes the hand-off folder (engine/torch/handoff.ts's writeTorchHandoff; tests pass their own). */
export type HandoffWriter = (opts: { spec: RunSpec; dir: string; signal?: AbortSignal; log?: (message: string) => void }) => Promise<{ totalSteps: number; learningRate?: number }>;

export interface TorchRunRequest extends RunHooks {
  home: string;
  runId: string;
  /** A new run's spec; absent with resume. */
  spec?: RunSpec;
  resume?: boolean;
  torch?: TorchEngineOptions;
  appVersion: string;
  writeHandoff?: HandoffWriter;
}

export const HANDOFF_DIR = 'handoff';
const OUTPUT_TAIL_BYTES = 64 * 1024;
const MAX_RESULT_BYTES = 64 * 1024 * 1024;
const MAX_HANDOFF_JSON_BYTES = 256 * 1024 * 1024;

export interface HandoffExample {
  index: number;
  id: string;
  split: 'train' | 'eval' | 'test';
}

interface TorchResultFile {
  status: 'finished' | 'cancelled' | 'failed';
  reason?: string;
  steps: number;
  final?: Record<string, unknown>;
  /** The test file's block (RunSpec data.evalPath). */
  finalTest?: Record<string, unknown>;
  tokensSeen?: number;
  tokensPerSecond?: number;
  /** Greedy generations (evalGenerate) of the eval split's examples; `index` is the example's index within its split. */
  generations?: { index: number; ids: number[] }[];
  /** The same for the test file's examples (split "test"); indices restart at 0 per split, hence their own key. */
  testGenerations?: { index: number; ids: number[] }[];
}

/** The engine's hand-off writer; imported when a torch run starts so a tfjs run never loads it. */
const defaultHandoffWriter: HandoffWriter = async ({ spec, dir, log }) => {
  const { writeTorchHandoff } = await import('../../../engine/torch/handoff');
  return writeTorchHandoff(spec, dir, log);
};

function readJsonFile(path: string, what: string, maxBytes = MAX_HANDOFF_JSON_BYTES): unknown {
  if (!existsSync(path)) throw new ApiError('not_found', `${what} is missing`, { file: path });
  try {
    return JSON.parse(readBoundedText(path, maxBytes));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('bad_file', `${what} is not valid JSON: ${(err as Error).message}`, { file: path });
  }
}

/** examples.jsonl's index, id and split per line. */
function readHandoffExamples(path: string): HandoffExample[] {
  if (!existsSync(path)) throw new ApiError('not_found', 'the hand-off has no examples.jsonl', { file: path });
  const out: HandoffExample[] = [];
  readBoundedText(path, MAX_HANDOFF_JSON_BYTES)
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let raw: Partial<HandoffExample>;
      try {
        raw = JSON.parse(line);
      } catch {
        throw new ApiError('bad_file', `examples.jsonl line ${i + 1} is not JSON`, { file: path });
      }
      if (typeof raw.index !== 'number' || typeof raw.id !== 'string' || !['train', 'eval', 'test'].includes(String(raw.split))) {
        throw new ApiError('bad_file', `examples.jsonl line ${i + 1} lacks index, id or split`, { file: path });
      }
      out.push({ index: raw.index, id: raw.id, split: raw.split as HandoffExample['split'] });
    });
  return out;
}

/** Trainable parameters: the element count of the initial tensors. */
function countParams(path: string): number {
  const reader = SafetensorsReader.open(path);
  try {
    let total = 0;
    for (const info of reader.tensors.values()) total += info.shape.reduce((a, b) => a * b, 1);
    return total;
  } finally {
    reader.close();
  }
}

function owner(pid: number): { pid: number; pidStartTime?: number } {
  const startTime = processStartTime(pid);
  return startTime === null ? { pid } : { pid, pidStartTime: startTime };
}

/** The manifest of a new torch run, from its spec and what the hand-off wrote. */
async function newManifest(
  req: TorchRunRequest,
  spec: RunSpec,
  handoffDir: string,
  written: { totalSteps: number; learningRate?: number },
  python: PythonReport,
): Promise<RunManifest> {
  const definition = getMethod(spec.method.name);
  const methodOptions = parseOptions(definition.options, spec.method.options, spec.method.name) as Record<string, unknown>;
  const options = parseOptions(trainerOptions, { ...spec.trainer, splitSeed: spec.data.split.seed }, 'trainer');
  const modelPath = resolve(spec.model.path);
  const dataPath = resolve(spec.data.path);
  const header = await readModelHeader(modelPath);
  const examples = readHandoffExamples(join(handoffDir, 'examples.jsonl'));
  const ids = (split: HandoffExample['split']) => examples.filter((e) => e.split === split).map((e) => e.id);
  const testPath = spec.data.evalPath !== undefined ? resolve(spec.data.evalPath) : null;
  return {
    version: 1,
    runId: req.runId,
    status: 'running',
    method: spec.method.name,
    methodOptions,
    trainer: options as unknown as Record<string, unknown>,
    learningRate: written.learningRate ?? spec.trainer.learningRate ?? definition.defaultLearningRate,
    seed: spec.seed,
    backend: torchBackendName(python),
    appVersion: req.appVersion,
    ...owner(process.pid),
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    baseModel: { path: modelPath, format: header.format, architecture: header.config.architecture, parameters: header.config.parameters, files: await modelFingerprint(modelPath) },
    dataset: {
      path: dataPath,
      sha256: await datasetFingerprint(dataPath),
      kPerClass: spec.data.split.kPerClass ?? null,
      splitSeed: spec.data.split.seed,
      trainIds: ids('train'),
      evalIds: ids('eval'),
      ...(testPath ? { evalData: { path: testPath, sha256: await sha256File(testPath), examples: ids('test').length } } : {}),
    },
    trainableParams: countParams(join(handoffDir, 'init.safetensors')),
    totalSteps: written.totalSteps,
    step: 0,
    checkpoints: [],
    runSpec: spec,
  };
}

/** "torch (cuda: NVIDIA H200)" / "torch (cpu)": what the run's manifest and result name as its backend. */
export function torchBackendName(report: PythonReport): string {
  const gpu = report.devices.find((d) => d.kind !== 'cpu');
  return `torch (${gpu ? `${gpu.kind}: ${gpu.name}` : 'cpu'})`;
}

/** Trains (or resumes) one torch run; resolves when Python has exited and the run is recorded. */
export async function runTorch(req: TorchRunRequest): Promise<TrainResult> {
  const started = performance.now();
  const torch = req.torch ?? {};
  // Bad flags fail before anything is written or started.
  const nproc = checkNproc(torch.nproc);
  const accelerateConfig = checkAccelerateConfig(torch.accelerateConfig);
  const pythonPath = torch.pythonPath === undefined ? enginePythonPath() : torch.pythonPath;
  const env = engineEnv(torch.env ?? process.env, pythonPath);
  const python = await requireTorchPython({ flag: torch.python, env, root: undefined });

  const store = new RunsStore(req.home);
  const runDir = store.runDir(req.runId);
  const handoffDir = join(runDir, HANDOFF_DIR);
  let manifest: RunManifest;
  if (req.resume) {
    const previous = store.read(req.runId);
    if (!existsSync(join(handoffDir, 'runspec.json'))) throw new ApiError('not_found', `run ${req.runId} has no torch hand-off to resume from`, { file: handoffDir });
    if (listCheckpoints(store.checkpointsDir(req.runId)).length === 0) {
      throw new ApiError('not_found', `run ${req.runId} has no complete checkpoint to resume from`, { file: store.checkpointsDir(req.runId) });
    }
    manifest = await store.update(req.runId, () => {
      const rest = { ...previous };
      delete rest.reason;
      delete rest.endedAt;
      delete rest.pidStartTime;
      return { ...rest, status: 'running', ...owner(process.pid), hostname: hostname(), backend: torchBackendName(python) };
    });
  } else {
    if (!req.spec) throw new ApiError('invalid_argument', 'a new run needs its run spec', { field: 'runSpec' });
    const spec = parseRunSpec(req.spec);
    const isNewFolder = !existsSync(runDir);
    try {
      const write = req.writeHandoff ?? defaultHandoffWriter;
      const written = await write({ spec, dir: handoffDir, signal: req.signal, log: req.onLog });
      manifest = await newManifest(req, spec, handoffDir, written, python);
      await store.create(manifest);
    } catch (err) {
      // Only the folder this call made, and only while it holds no manifest (never another run's files).
      if (isNewFolder && !existsSync(join(runDir, 'manifest.json'))) rmSync(runDir, { recursive: true, force: true });
      throw err;
    }
  }
  req.onStart?.({ runId: req.runId, runDir, totalSteps: manifest.totalSteps });
  if (req.signal?.aborted) return finishRun(req, store, runDir, manifest, { code: null, signal: null, cancelled: true, outputTail: '' }, started);

  const launch = buildLaunchCommand({ python: python.python, nproc, accelerateConfig, handoffDir, runDir, resume: req.resume });
  const { command, args } = launch;
  const metricsPath = join(runDir, 'metrics.jsonl');
  // A previous launch's result (a cancelled run being resumed) must not be taken for this one's.
  rmSync(join(runDir, 'result.json'), { force: true });
  const tail = new MetricsTail(metricsPath, req.runId, (p) => req.onProgress?.(p), {
    pollMs: torch.pollMs,
    afterStep: req.resume ? (listCheckpoints(store.checkpointsDir(req.runId)).pop()?.step ?? 0) : 0,
  });
  const exit = await supervise(command, args, { ...env, ...launch.env }, runDir, req, torch.graceMs ?? 60_000, tail, async (pid) => {
    await store.update(req.runId, (m) => ({ ...m, ...owner(pid) }));
  });
  return finishRun(req, store, runDir, manifest, exit, started);
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  cancelled: boolean;
  outputTail: string;
}

/** Starts the command in its own process group (accelerate's workers included), tails metrics, relays cancel. */
function supervise(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  hooks: RunHooks,
  graceMs: number,
  tail: MetricsTail,
  onPid: (pid: number) => Promise<void>,
): Promise<ExitInfo> {
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const keep = (chunk: Buffer): void => {
      // Bounded: only the last OUTPUT_TAIL_BYTES are kept, for the reason of a failure.
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
      // Python's own output never reaches our stdout (`--json` lives there).
      process.stderr.write(chunk);
    };
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let cancelled = false;
    let killTimer: NodeJS.Timeout | null = null;
    const signalGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is gone already
      }
    };
    const onAbort = (): void => {
      cancelled = true;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      killTimer.unref?.();
    };
    child.on('spawn', () => {
      hooks.onSpawn?.(child.pid as number);
      void onPid(child.pid as number).catch(() => undefined);
      tail.start();
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      if (hooks.signal?.aborted) onAbort();
    });
    child.on('error', (err) => {
      hooks.signal?.removeEventListener('abort', onAbort);
      reject(new ApiError('internal', `the torch engine could not start (${command}): ${err.message}`));
    });
    child.on('close', (code, signal) => {
      hooks.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      // accelerate's workers share the group: whatever outlived the launcher is stopped too.
      signalGroup('SIGKILL');
      tail.stop();
      resolvePromise({ code, signal, cancelled, outputTail: output });
    });
  });
}

function lastMeaningfulLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop()
      ?.slice(0, 400) ?? ''
  );
}

/** Per-label accuracy from a confusion matrix (rows: truth, columns: prediction), as classify.ts reports it. */
export function perClassFromConfusion(labels: string[] | null, confusion: number[][] | null): Record<string, number> | null {
  if (!labels || !confusion || confusion.length !== labels.length) return null;
  const out: Record<string, number> = {};
  labels.forEach((label, i) => {
    const row = confusion[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    if (total > 0) out[label] = (row[i] ?? 0) / total;
  });
  return out;
}

/** A result.json metrics block as our FinalMetrics (what Python leaves out is null). */
function finalFrom(raw: Record<string, unknown> | undefined, lastTrainLoss: number | null): FinalMetrics {
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const labels = Array.isArray(raw?.labels) ? (raw.labels as string[]) : null;
  const confusion = Array.isArray(raw?.confusion) ? (raw.confusion as number[][]) : null;
  const candidate = {
    trainLoss: num(raw?.trainLoss) ?? lastTrainLoss,
    evalLoss: num(raw?.evalLoss),
    accuracy: num(raw?.accuracy),
    perClassAccuracy: (raw?.perClassAccuracy as Record<string, number> | undefined) ?? perClassFromConfusion(labels, confusion),
    labels,
    confusion,
    exactMatch: num(raw?.exactMatch),
    evalExamples: num(raw?.evalExamples) ?? 0,
  };
  const parsed = FinalMetricsSchema.safeParse(candidate);
  return parsed.success ? parsed.data : { ...candidate, perClassAccuracy: null, labels: null, confusion: null };
}

/** Exact match of the greedy generations (result.json `generations`), decoded with our tokenizer, per split. */
export function scoreGenerations(
  generations: { index: number; ids: number[] }[],
  handoffExamples: HandoffExample[],
  targets: { eval: Map<string, Example>; test: Map<string, Example> },
  decode: (ids: number[]) => string,
): { eval: number | null; test: number | null } {
  const byIndex = new Map(handoffExamples.map((e) => [e.index, e]));
  const tally = { eval: { n: 0, hit: 0 }, test: { n: 0, hit: 0 } };
  for (const g of generations) {
    const example = byIndex.get(g.index);
    if (!example || example.split === 'train') continue;
    const target = targets[example.split].get(example.id)?.target;
    if (target === undefined) continue;
    // The same comparison as engine/eval/generation.ts: first line of the continuation, normalised.
    const text = decode(g.ids)
      .replace(/^\s*\n+/, '')
      .split('\n')[0];
    tally[example.split].n += 1;
    if (normaliseAnswer(text) === normaliseAnswer(target)) tally[example.split].hit += 1;
  }
  const rate = (t: { n: number; hit: number }) => (t.n ? t.hit / t.n : null);
  return { eval: rate(tally.eval), test: rate(tally.test) };
}

async function exactMatchOf(manifest: RunManifest, runDir: string, result: TorchResultFile): Promise<{ eval: number | null; test: number | null }> {
  const { tokenizer } = await loadTokenizer(manifest.baseModel.path);
  if (!tokenizer) return { eval: null, test: null };
  const examples = readHandoffExamples(join(runDir, HANDOFF_DIR, 'examples.jsonl'));
  const data = await readExamples(manifest.dataset.path);
  const test = manifest.dataset.evalData ? await readEvalExamples(manifest.dataset.evalData.path, manifest.dataset.path) : [];
  // The target as generation.ts compares it: encoded and decoded, so special tokens written as text drop out.
  const asDecoded = (e: Example): Example => ({ ...e, target: tokenizer.decode(tokenizer.encode(e.target, { addSpecialTokens: false })) });
  const targets = { eval: new Map(data.map((e) => [e.id, asDecoded(e)])), test: new Map(test.map((e) => [e.id, asDecoded(e)])) };
  const decode = (ids: number[]) => tokenizer.decode(ids);
  // Indices count within a split, so each split's generations are matched with that split's examples only.
  const of = (split: 'eval' | 'test') => examples.filter((e) => e.split === split);
  return {
    eval: scoreGenerations(result.generations ?? [], of('eval'), targets, decode).eval,
    test: scoreGenerations(result.testGenerations ?? [], of('test'), targets, decode).test,
  };
}

/** metrics.jsonl rewritten in our events' shape (runId, memory), so `runs` and the curves read it like ours. */
async function normaliseMetrics(path: string, runId: string): Promise<TrainProgress[]> {
  if (!existsSync(path)) return [];
  const points: TrainProgress[] = [];
  for (const line of readBoundedText(path, MAX_HANDOFF_JSON_BYTES).split('\n')) {
    if (!line.trim()) continue;
    try {
      const p = toProgress(JSON.parse(line), runId);
      if (p) points.push(p);
    } catch {
      // a torn last line (the process was killed mid-write)
    }
  }
  await writeFileAtomic(path, points.map((p) => JSON.stringify(p) + '\n').join(''));
  return points;
}

async function finishRun(req: TorchRunRequest, store: RunsStore, runDir: string, manifest: RunManifest, exit: ExitInfo, started: number): Promise<TrainResult> {
  const runId = req.runId;
  const points = await normaliseMetrics(join(runDir, 'metrics.jsonl'), runId);
  const last = points[points.length - 1];
  const resultPath = join(runDir, 'result.json');
  const result = existsSync(resultPath) ? (readJsonFile(resultPath, "the torch run's result.json", MAX_RESULT_BYTES) as TorchResultFile) : null;
  const checkpoints = listCheckpoints(store.checkpointsDir(runId));
  let status: TrainResult['status'];
  let reason: string | undefined;
  if (result && ['finished', 'cancelled', 'failed'].includes(result.status)) {
    status = result.status;
    reason = result.reason;
  } else if (exit.cancelled) {
    status = 'cancelled';
    reason = 'cancelled before the torch engine wrote its result';
  } else {
    // Died without a result (killed, crashed): resumable from its last checkpoint, like our engine's runs.
    status = checkpoints.length ? 'interrupted' : 'failed';
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    const detail = lastMeaningfulLine(exit.outputTail);
    reason = `the torch engine ${how} without a result${detail ? `: ${detail}` : ''}${checkpoints.length ? '; resume the run to continue from its last checkpoint' : ''}`;
  }
  const steps = typeof result?.steps === 'number' ? result.steps : (last?.step ?? manifest.step);
  const lastTrainLoss = last?.trainLoss ?? null;
  const final = finalFrom(result?.final, lastTrainLoss);
  const hasTest = manifest.dataset.evalData !== undefined;
  let finalTest = hasTest ? finalFrom(result?.finalTest, lastTrainLoss) : undefined;
  if (result?.generations?.length || result?.testGenerations?.length) {
    const em = await exactMatchOf(manifest, runDir, result);
    if (em.eval !== null) final.exactMatch = em.eval;
    // No eval split: Python's `final` is the test file's block (as job.ts makes it), exact match included.
    else if (em.test !== null && manifest.dataset.evalIds.length === 0) final.exactMatch = em.test;
    if (finalTest && em.test !== null) finalTest = { ...finalTest, exactMatch: em.test };
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const tokensSeen = typeof result?.tokensSeen === 'number' ? result.tokensSeen : (last?.tokensSeen ?? 0);
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const resultBlock = {
    tokensPerSecond: num(result?.tokensPerSecond, num(result?.final?.tokensPerSecond, last?.tokensPerSecond ?? 0)),
    peakMemoryBytes: num(result?.final?.peakMemoryBytes, 0),
    peakRssBytes: num(result?.final?.peakRssBytes, 0),
    wallSeconds,
    tokensSeen,
  };
  const previousEntries = new Map(manifest.checkpoints.map((c) => [c.step, c]));
  const entries = checkpoints.map(
    (c) =>
      previousEntries.get(c.step) ?? {
        step: c.step,
        dir: `checkpoints/${c.dir.split(/[\\/]/).pop()}`,
        createdAt: new Date().toISOString(),
        trainLoss: points.find((p) => p.step === c.step)?.trainLoss ?? null,
      },
  );
  const written = await store.update(runId, (m) => {
    const rest = { ...m };
    delete rest.reason;
    return {
      ...rest,
      status,
      ...(reason ? { reason } : {}),
      step: steps,
      endedAt: new Date().toISOString(),
      checkpoints: entries,
      final,
      ...(finalTest ? { finalTest } : {}),
      result: resultBlock,
    };
  });
  return {
    runId,
    runDir,
    status,
    ...(reason ? { reason } : {}),
    method: written.method,
    options: written.methodOptions,
    trainer: written.trainer,
    learningRate: written.learningRate,
    seed: written.seed,
    backend: written.backend,
    trainableParams: written.trainableParams,
    steps,
    totalSteps: written.totalSteps,
    tokensSeen,
    tokensPerSecond: resultBlock.tokensPerSecond,
    peakMemoryBytes: resultBlock.peakMemoryBytes,
    peakRssBytes: resultBlock.peakRssBytes,
    wallSeconds,
    checkpoint: checkpoints[checkpoints.length - 1]?.dir ?? null,
    final,
    ...(finalTest ? { finalTest } : {}),
  };
}
