// kill -9 harness: a real training process (the worker `prefixlab train` forks) on a tiny fixture model,
// checkpointing every 2 steps, is killed with SIGKILL at random moments — while loading, mid-step, right as
// a checkpoint is being written — and the process that writes adapters and PEFT exports is killed mid-write.
// After every kill the data folder must open, list every run with a truthful status (interrupted after
// recovery), hold no half-written file, and the run must resume losing at most one checkpoint interval.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { RunManifestSchema } from '@shared/contract/training';
import type { ApiErrorData } from '@shared/errors';
import { createAppContext } from '../../../src/main/app/context';
import { SafetensorsReader } from '../../../src/main/engine/io/safetensors';
import { listCheckpoints, readCheckpoint } from '../../../src/main/engine/train/checkpoint';
import type { TrainJobSpec } from '../../../src/main/engine/train/job';
import { jobSpecFromFlags } from '../../../src/main/cli/testing/requests-from-flags';
import { Rng } from '../../../src/main/platform/rng';
import { handlers } from '../../../src/main/handlers';
import { readAdapterManifest } from '../../../src/main/registry/adapter-store';
import { readIndex } from '../../../src/main/registry/index-store';
import { RunsStore } from '../../../src/main/registry/runs-store';
import { createDispatcher } from '../../../src/main/rpc/dispatch';
import { recoverInterruptedRuns } from '../../../src/main/services/training/train';
import { classificationJsonl, FIXTURE_MODEL } from '../lib/home-fixture';

export const CHECKPOINT_EVERY = 2;
export const RUN_STEPS = 12;

export interface CrashOptions {
  kills: number;
  seed: number;
  /** Progress lines (one per kill). */
  log?: (line: string) => void;
}

export type KillMoment = 'loading' | 'training' | 'checkpoint' | 'export';

export interface CrashReport {
  /** SIGKILLs sent to a live process. */
  attempted: number;
  /** Kills after which every check passed. */
  survived: number;
  /** By when the kill was aimed. */
  byMoment: Record<KillMoment, number>;
  /** Kills that left a hidden temp folder behind: proof they landed inside a checkpoint / adapter / export write. */
  landedInCheckpointWrite: number;
  landedInAdapterOrExportWrite: number;
  /** Resumes that started from a checkpoint, and the most steps any kill cost (≤ CHECKPOINT_EVERY). */
  resumes: number;
  maxLostSteps: number;
  /** Runs that reached their last step (through however many kills and resumes), each with metrics 1…N once. */
  runsCompleted: number;
  exportsCompleted: number;
  failures: string[];
  wallSeconds: number;
}

interface Child {
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  messages: { type: string; [k: string]: unknown }[];
  on(type: string, fn: (m: { type: string; [k: string]: unknown }) => void): void;
}

function spawnChild(file: string, env: Record<string, string>): Child {
  const proc = fork(file, [], { execArgv: [], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  proc.stderr?.resume();
  const messages: Child['messages'] = [];
  const listeners: [string, (m: Child['messages'][number]) => void][] = [];
  proc.on('message', (raw) => {
    const m = raw as Child['messages'][number];
    messages.push(m);
    for (const [type, fn] of listeners) if (type === m.type) fn(m);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => proc.once('exit', (code, signal) => done({ code, signal })));
  return { proc, exited, messages, on: (type, fn) => listeners.push([type, fn]) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Maximum step logged to metrics.jsonl (written before each step's checkpoint). */
function lastLoggedStep(home: string, runId: string): number {
  const path = join(home, 'runs', runId, 'metrics.jsonl');
  if (!existsSync(path)) return 0;
  let max = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      max = Math.max(max, (JSON.parse(line) as { step: number }).step);
    } catch {
      // a torn last line (killed mid-append) is allowed; readers skip it
    }
  }
  return max;
}

/** Visible names that look like temp files, anywhere under `dir`. */
function visibleTempNames(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!name.startsWith('.') && /\.(tmp|part|old)$/.test(name)) out.push(path);
    if (!name.startsWith('.') && statSync(path).isDirectory()) visibleTempNames(path, out);
  }
  return out;
}

function hiddenTemps(dir: string, pattern: RegExp): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((n) => n.startsWith('.') && pattern.test(n)).length;
}

/** Every check after a kill; returns the problems found (empty = survived). */
async function checkHome(home: string, exportsRoot: string, killedRunId: string | null): Promise<string[]> {
  const problems: string[] = [];
  const store = new RunsStore(home);
  // 1. The registry opens and lists every run folder; a dead 'running' run reads 'interrupted' before recovery.
  try {
    const snapshot = await readIndex(home);
    const app = createAppContext({ home, shell: 'headless' });
    const listed = await createDispatcher(handlers, app)('adapters.list', {});
    if (!listed.ok) problems.push(`adapters.list failed: ${(listed.error as ApiErrorData).message}`);
    const onDisk = existsSync(store.root) ? readdirSync(store.root).filter((n) => !n.startsWith('.') && existsSync(join(store.root, n, 'manifest.json'))) : [];
    for (const id of onDisk) {
      const run = snapshot.runs.find((r) => r.id === id);
      if (!run) problems.push(`run ${id} is on disk but not listed`);
      else if (run.status === 'running') problems.push(`run ${id} is listed as running but no process is alive`);
    }
  } catch (err) {
    problems.push(`the registry does not open: ${err instanceof Error ? err.message : String(err)}`);
  }
  // 2. Recovery marks it interrupted, with a reason.
  await recoverInterruptedRuns(home);
  for (const run of store.list()) {
    if (run.status === 'running') problems.push(`run ${run.runId} still 'running' after recovery`);
    if (run.runId === killedRunId && !['interrupted', 'finished'].includes(run.status)) problems.push(`killed run ${run.runId} is '${run.status}', expected interrupted`);
    if (run.status === 'interrupted' && !run.reason) problems.push(`run ${run.runId} is interrupted without a reason`);
  }
  // 3. No half-written file is visible: every manifest parses, every checkpoint/adapter/export folder is complete.
  for (const path of visibleTempNames(home).concat(visibleTempNames(exportsRoot))) problems.push(`a temp file is visible as an entry: ${path}`);
  if (existsSync(store.root)) {
    for (const id of readdirSync(store.root).filter((n) => !n.startsWith('.'))) {
      const manifestPath = join(store.root, id, 'manifest.json');
      if (!existsSync(manifestPath)) continue;
      const parsed = RunManifestSchema.safeParse(JSON.parse(readFileSync(manifestPath, 'utf8')));
      if (!parsed.success) problems.push(`run manifest ${manifestPath} does not parse: ${parsed.error.issues[0]?.message}`);
      const cpRoot = join(store.root, id, 'checkpoints');
      for (const name of existsSync(cpRoot) ? readdirSync(cpRoot).filter((n) => !n.startsWith('.')) : []) {
        if (!/^step-\d{6,}$/.test(name)) {
          problems.push(`unexpected entry ${name} in ${cpRoot}`);
          continue;
        }
        try {
          const cp = readCheckpoint(join(cpRoot, name));
          if (cp.state.step !== Number(name.slice(5))) problems.push(`${name} holds the state of step ${cp.state.step}`);
        } catch (err) {
          problems.push(`checkpoint ${join(cpRoot, name)} is incomplete: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  }
  const adaptersRoot = join(home, 'adapters');
  for (const id of existsSync(adaptersRoot) ? readdirSync(adaptersRoot).filter((n) => !n.startsWith('.')) : []) {
    try {
      const manifest = readAdapterManifest(home, id);
      const tensors = join(adaptersRoot, id, 'adapter.safetensors');
      SafetensorsReader.open(tensors).close();
      const sha = createHash('sha256').update(readFileSync(tensors)).digest('hex');
      if (sha !== manifest.tensors.sha256) problems.push(`adapter ${id}: tensors do not match the manifest's sha256`);
    } catch (err) {
      problems.push(`adapter ${id} is incomplete: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const name of existsSync(exportsRoot) ? readdirSync(exportsRoot).filter((n) => !n.startsWith('.')) : []) {
    const dir = join(exportsRoot, name);
    try {
      JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      JSON.parse(readFileSync(join(dir, 'parity.json'), 'utf8'));
      SafetensorsReader.open(join(dir, 'adapter_model.safetensors')).close();
    } catch (err) {
      problems.push(`export ${dir} is incomplete: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

/**
 * The training worker and the export child bundled from the current sources (esbuild, packages external):
 * forked bundles start in ~0.3 s where tsx needs seconds to compile, and they are never stale.
 */
async function bundleChildren(outDir: string): Promise<{ worker: string; exporter: string }> {
  const { build } = await import('esbuild');
  const repo = resolve(import.meta.dirname, '../../..');
  const worker = join(outDir, 'train-worker.mjs');
  const exporter = join(outDir, 'export-child.mjs');
  for (const [entry, outfile] of [
    [join(repo, 'src/main/services/training/worker.ts'), worker],
    [join(import.meta.dirname, 'export-child.ts'), exporter],
  ]) {
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      tsconfig: join(repo, 'tsconfig.node.json'),
      logLevel: 'error',
      // Bundled ESM has no require(); some dependencies of the engine still call it.
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  }
  return { worker, exporter };
}

export async function runCrashHarness(opts: CrashOptions): Promise<CrashReport> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'prefixlab-crash-'));
  const home = join(root, 'home');
  const exportsRoot = join(root, 'exports');
  const dataFile = join(root, 'data.jsonl');
  mkdirSync(home, { recursive: true });
  mkdirSync(exportsRoot, { recursive: true });
  writeFileSync(dataFile, classificationJsonl(24));
  const rng = Rng.fromSeed(opts.seed);
  const uniform = (): number => rng.nextUint32() / 2 ** 32;
  const report: CrashReport = {
    attempted: 0,
    survived: 0,
    byMoment: { loading: 0, training: 0, checkpoint: 0, export: 0 },
    landedInCheckpointWrite: 0,
    landedInAdapterOrExportWrite: 0,
    resumes: 0,
    maxLostSteps: 0,
    runsCompleted: 0,
    exportsCompleted: 0,
    failures: [],
    wallSeconds: 0,
  };
  // Inside the repo (node_modules/.cache), so the bundles' bare imports resolve to the repo's node_modules.
  const bundleDir = join(resolve(import.meta.dirname, '../../..'), 'node_modules/.cache', `prefixlab-crash-${process.pid}`);
  const bundles = await bundleChildren(bundleDir);
  // Forked from the repo root so the bundles resolve node_modules like the app does.
  const childEnv = { PREFIXLAB_TRAIN_WORKER: bundles.worker };
  let current: { runId: string; resumable: boolean } | null = null;
  const finished: string[] = [];
  let stepMs = 400;
  let exportMs = 1500;
  let exportsDone = 0;
  let guard = 0;
  try {
    while (report.attempted < opts.kills && guard++ < opts.kills * 6) {
      const roll = uniform();
      // The first round trains one run to the end unkilled: it measures the step time and leaves a finished
      // run for the export kills.
      const isWarmUp = guard === 1;
      const moment: KillMoment = finished.length > 0 && roll < 0.2 ? 'export' : roll < 0.3 ? 'loading' : roll < 0.65 ? 'checkpoint' : 'training';
      let killedRunId: string | null = null;
      let wasKilled = false;
      if (moment === 'export') {
        const runId = finished[Math.floor(uniform() * finished.length)];
        const child = spawnChild(bundles.exporter, childEnv);
        await new Promise<void>((ready) => child.on('ready', () => ready()));
        const t0 = performance.now();
        child.proc.send({ home, runId, outDir: join(exportsRoot, `export-${exportsDone++}`) });
        const delay = uniform() * exportMs;
        const outcome = await Promise.race([child.exited.then(() => 'exited' as const), sleep(delay).then(() => 'timer' as const)]);
        if (outcome === 'timer' && child.proc.exitCode === null) {
          child.proc.kill('SIGKILL');
          wasKilled = true;
        }
        await child.exited;
        if (!wasKilled) {
          exportMs = Math.max(200, performance.now() - t0);
          if (child.messages.some((m) => m.type === 'done')) report.exportsCompleted++;
          else report.failures.push(`export of ${runId} failed: ${String(child.messages.find((m) => m.type === 'error')?.message)}`);
          continue;
        }
        const pid = child.proc.pid;
        if (hiddenTemps(join(home, 'adapters'), new RegExp(`\\.${pid}\\.tmp$`)) + hiddenTemps(exportsRoot, new RegExp(`\\.export-${pid}-[0-9a-f]+\\.tmp$`)) > 0)
          report.landedInAdapterOrExportWrite++;
      } else {
        const resume: boolean = current?.resumable === true;
        const runId: string = resume ? current!.runId : RunsStore.newRunId('lora');
        const spec: TrainJobSpec = jobSpecFromFlags(
          resume
            ? { home, model: FIXTURE_MODEL, data: dataFile, method: 'lora', seed: 1, runId, resume: true, backend: 'cpu' }
            : {
                home,
                model: FIXTURE_MODEL,
                data: dataFile,
                method: 'lora',
                seed: 1,
                steps: RUN_STEPS,
                runId,
                backend: 'cpu',
                set: { batchSize: '4', maxLength: '32', checkpointEvery: String(CHECKPOINT_EVERY), keepCheckpoints: '2', evalEvery: '0', maxEvalExamples: '4' },
              },
        );
        const child = spawnChild(bundles.worker, childEnv);
        killedRunId = runId;
        const kill = (): void => {
          if (child.proc.exitCode === null && !wasKilled) {
            child.proc.kill('SIGKILL');
            wasKilled = true;
          }
        };
        const fromStep = resume ? (listCheckpoints(new RunsStore(home).checkpointsDir(runId)).pop()?.step ?? 0) : 0;
        // Aim ahead of where the run resumes, so runs advance through the kills and finish now and then.
        const target = fromStep + CHECKPOINT_EVERY * (1 + Math.floor(uniform() * 2));
        const delay = uniform();
        let lastProgressAt = 0;
        child.on('ready', () => {
          child.proc.send({ type: 'start', spec });
          if (moment === 'loading' && !isWarmUp) setTimeout(kill, delay * 600);
        });
        child.on('started', () => {
          lastProgressAt = performance.now();
          if (moment === 'training' && !isWarmUp) setTimeout(kill, delay * Math.max(1, RUN_STEPS - fromStep) * stepMs);
        });
        child.on('progress', (m) => {
          const step = (m.progress as { step: number }).step;
          const now = performance.now();
          if (step > fromStep + 1) stepMs = 0.8 * stepMs + 0.2 * (now - lastProgressAt);
          lastProgressAt = now;
          // A checkpoint step's progress is sent just before that checkpoint is written: kill right into it.
          if (moment === 'checkpoint' && !isWarmUp && step >= target) setTimeout(kill, delay * 12);
        });
        await child.exited;
        const resumed = resume && child.messages.some((m) => m.type === 'started');
        if (resumed) report.resumes++;
        if (!wasKilled) {
          const result = child.messages.find((m) => m.type === 'result') as { result?: { status: string; steps: number } } | undefined;
          const error = child.messages.find((m) => m.type === 'error') as { error?: ApiErrorData } | undefined;
          if (result?.result?.status === 'finished') {
            report.runsCompleted++;
            finished.push(runId);
            current = null;
            // The run went through every kill and resume: each step logged exactly once, 1…N.
            const steps = new RunsStore(home).readMetrics(runId).map((p) => p.step);
            const expected = Array.from({ length: RUN_STEPS }, (_, i) => i + 1);
            if (steps.join(',') !== expected.join(',')) report.failures.push(`run ${runId} finished with metric steps [${steps.join(',')}], expected 1…${RUN_STEPS} once each`);
          } else {
            report.failures.push(`run ${runId} ended without a kill: ${result ? `status ${result.result?.status}` : `error ${error?.error?.message ?? 'none'}`}`);
            current = null;
          }
          continue;
        }
        if (hiddenTemps(join(home, 'runs', runId, 'checkpoints'), new RegExp(`^\\.step-\\d+\\.${child.proc.pid}\\.tmp$`)) > 0) report.landedInCheckpointWrite++;
      }
      report.attempted++;
      report.byMoment[moment]++;
      const logged = killedRunId ? lastLoggedStep(home, killedRunId) : 0;
      const problems = await checkHome(home, exportsRoot, killedRunId);
      if (killedRunId) {
        const exists = existsSync(join(home, 'runs', killedRunId, 'manifest.json'));
        if (exists) {
          const latest = listCheckpoints(new RunsStore(home).checkpointsDir(killedRunId)).pop()?.step ?? 0;
          const lost = logged - latest;
          report.maxLostSteps = Math.max(report.maxLostSteps, lost);
          if (lost > CHECKPOINT_EVERY)
            problems.push(`resume would lose ${lost} steps (logged ${logged}, newest checkpoint ${latest}), more than one interval of ${CHECKPOINT_EVERY}`);
          const status: string = new RunsStore(home).read(killedRunId).status;
          current = status === 'interrupted' ? { runId: killedRunId, resumable: latest > 0 } : null;
          if (status === 'finished') {
            finished.push(killedRunId);
            report.runsCompleted++;
          }
          // A run killed before its first checkpoint cannot resume: it is left interrupted and a new one starts.
        } else current = null;
      }
      if (problems.length === 0) report.survived++;
      else report.failures.push(`kill ${report.attempted} (${moment}): ${problems.join('; ')}`);
      opts.log?.(
        `kill ${report.attempted}/${opts.kills} ${moment}${killedRunId ? ` run ${killedRunId} at step ${logged}` : ''}: ${problems.length ? `FAILED ${problems[0]}` : 'ok'}`,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  }
  report.wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  return report;
}
