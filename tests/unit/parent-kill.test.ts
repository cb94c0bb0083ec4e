// The parent of a training process goes away. `prefixlab train` (bundled from the current sources, with its
// training process, as the crash harness does) trains LoRA on the tiny fixture model:
// - killed with SIGKILL mid-run, its training process sees the IPC channel close, stops after the current
//   step with a checkpoint and leaves the run 'interrupted' (not 'cancelled': no one cancelled it), and the
//   run resumes to the end with every step logged once;
// - Ctrl-C in a terminal (SIGINT to the whole process group) cancels after the current step: the training
//   process leaves the signal to its parent instead of dying of it, and the run ends 'cancelled'.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOwnerAlive, isPidAlive, processStartTime } from '../../src/main/platform/process-identity';
import { RunsStore } from '../../src/main/registry/runs-store';
import { resume } from '../../src/main/services/training/train';

const REPO = resolve(import.meta.dirname, '../..');
const MODEL = join(REPO, 'tests/fixtures/models/llama-gqa');
const STEPS = 14;

let root: string;
let bundleDir: string;
let cli: string;
let worker: string;
let data: string;
const previousWorker = process.env.PREFIXLAB_TRAIN_WORKER;
/** Processes this file started (CLIs and, once known, their training processes), ended if a test fails mid-way. */
const started: { pid: number; startTime: number | null }[] = [];
const track = (pid: number): void => void started.push({ pid, startTime: processStartTime(pid) });

/** The CLI and the training process bundled from the current sources (starts in well under a second). */
async function bundle(entry: string, outfile: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    tsconfig: join(REPO, 'tsconfig.node.json'),
    logLevel: 'error',
    // Bundled ESM has no require(); some dependencies of the engine still call it.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'prefixlab-parent-kill-'));
  // Inside the repo, so the bundles' bare imports resolve to its node_modules.
  bundleDir = join(REPO, 'node_modules/.cache', `prefixlab-parent-kill-${process.pid}`);
  mkdirSync(bundleDir, { recursive: true });
  cli = join(bundleDir, 'cli.mjs');
  worker = join(bundleDir, 'train-worker.mjs');
  await bundle(join(REPO, 'src/main/cli/index.ts'), cli);
  await bundle(join(REPO, 'src/main/services/training/worker.ts'), worker);
  data = join(root, 'data.jsonl');
  const words = ['good', 'bad', 'great', 'awful', 'fine', 'poor', 'nice', 'dull'];
  writeFileSync(
    data,
    Array.from({ length: 24 }, (_, i) => JSON.stringify({ text: `the film was ${words[i % 8]} and ${words[(i * 3) % 8]} ${i}`, label: i % 2 ? 'pos' : 'neg' })).join('\n') + '\n',
  );
  process.env.PREFIXLAB_TRAIN_WORKER = worker;
});

afterAll(() => {
  // By pid and start time, so a pid reused since is never hit.
  for (const { pid, startTime } of started) if (isOwnerAlive(pid, startTime)) process.kill(pid, 'SIGKILL');
  if (previousWorker === undefined) delete process.env.PREFIXLAB_TRAIN_WORKER;
  else process.env.PREFIXLAB_TRAIN_WORKER = previousWorker;
  rmSync(root, { recursive: true, force: true });
  rmSync(bundleDir, { recursive: true, force: true });
});

interface Cli {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startTrain(home: string, opts: { detached?: boolean } = {}): Cli {
  const args = ['train', '--model', MODEL, '--data', data, '--method', 'lora', '--steps', String(STEPS), '--seed', '1', '--home', home, '--backend', 'cpu', '--json'];
  for (const set of ['batchSize=4', 'maxLength=32', 'checkpointEvery=2', 'keepCheckpoints=2', 'evalEvery=0', 'maxEvalExamples=4']) args.push('--set', set);
  const proc = spawn(process.execPath, [cli, ...args], {
    cwd: REPO,
    env: { ...process.env, PREFIXLAB_TRAIN_WORKER: worker },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached,
  });
  if (proc.pid !== undefined) track(proc.pid);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (c) => (out += String(c)));
  proc.stderr?.on('data', (c) => (err += String(c)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => proc.once('exit', (code, signal) => done({ code, signal })));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs: number, cli?: Cli): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${cli ? `; CLI stderr:\n${cli.stderr()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The one run folder of `home` once it has logged step `step`. */
function runAtStep(home: string, step: number): string | undefined {
  const runs = join(home, 'runs');
  if (!existsSync(runs)) return undefined;
  for (const id of readdirSync(runs)) {
    const metrics = join(runs, id, 'metrics.jsonl');
    if (!existsSync(metrics)) continue;
    const steps = readFileSync(metrics, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return (JSON.parse(l) as { step: number }).step;
        } catch {
          return 0;
        }
      });
    if (Math.max(0, ...steps) >= step) return id;
  }
  return undefined;
}

describe('the parent of a training process goes away', () => {
  it('SIGKILL of `prefixlab train` leaves the run interrupted (checkpointed), and it resumes to the end', async () => {
    const home = join(root, 'home-kill');
    const run = startTrain(home);
    const runId = await waitFor('step 3', () => runAtStep(home, 3), 120_000, run);
    const store = new RunsStore(home);
    const { pid: trainingPid, pidStartTime } = store.read(runId);
    track(trainingPid);
    expect(trainingPid).not.toBe(run.proc.pid);
    // The run records its process's start time with the pid (Linux), so a reused pid is never taken for it.
    if (existsSync('/proc/self/stat')) expect(pidStartTime).toBe(processStartTime(trainingPid));
    run.proc.kill('SIGKILL');
    await run.exited;
    // The training process winds down on its own: the current step, a checkpoint, the manifest.
    await waitFor('the training process to exit', () => !isPidAlive(trainingPid), 60_000);
    const manifest = store.read(runId);
    expect(manifest.status).toBe('interrupted');
    expect(manifest.reason).toMatch(/went away after step \d+; resume the run/);
    expect(manifest.step).toBeLessThan(STEPS);
    // It stopped at a step boundary with a checkpoint of that very step: nothing is lost.
    expect(manifest.checkpoints.at(-1)?.step).toBe(manifest.step);

    const result = await resume({ home, runId, backend: 'cpu' });
    expect(result.status).toBe('finished');
    expect(result.steps).toBe(STEPS);
    expect(store.read(runId).status).toBe('finished');
    expect(store.readMetrics(runId).map((p) => p.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  }, 300_000);

  it('Ctrl-C (SIGINT to the process group) cancels after the current step; the run is cancelled, not killed', async () => {
    const home = join(root, 'home-sigint');
    // Its own process group, as a shell gives a foreground job: the signal reaches the CLI and its child.
    const run = startTrain(home, { detached: true });
    const runId = await waitFor('step 2', () => runAtStep(home, 2), 120_000, run);
    track(new RunsStore(home).read(runId).pid);
    process.kill(-run.proc.pid!, 'SIGINT');
    const { code } = await run.exited;
    expect(run.stderr()).toContain('cancelling: the run stops after this step');
    expect(code, run.stderr()).toBe(0);
    const result = JSON.parse(run.stdout()) as { status: string; runId: string; steps: number };
    expect(result).toMatchObject({ status: 'cancelled', runId });
    const manifest = new RunsStore(home).read(runId);
    expect(manifest.status).toBe('cancelled');
    expect(manifest.checkpoints.at(-1)?.step).toBe(result.steps);
  }, 300_000);
});
