// Runs bench/torch_reference.py (PyTorch on CPU, same shape and thread count) when Python with torch and
// transformers is available: PREFIXLAB_PYTHON, else the project's .venv (python/setup-venv.sh); a GGUF model
// needs .venv-bench (python/setup-bench-venv.sh: torch 2, which transformers' GGUF loader requires).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { resolve } from 'node:path';
import { referenceEnv } from './reference-env';
import type { ShapeSpec } from './shapes';

const repoRoot = resolve(import.meta.dirname, '..');

export function pythonForReference(shape?: ShapeSpec): string | undefined {
  const gguf = shape?.path?.endsWith('.gguf');
  const candidates = [process.env.PREFIXLAB_PYTHON, resolve(repoRoot, gguf ? '.venv-bench/bin/python' : '.venv/bin/python')].filter(Boolean) as string[];
  return candidates.find((p) => existsSync(p));
}

export interface ReferenceResult {
  name: string;
  tokensPerSecond: number;
  msPerStep?: number;
  /** RSS sampled between training steps (the figure our side's peakRssBytes is). */
  peakRssBytes?: number;
  /** The reference process's high-water mark (getrusage), loading included. */
  processMaxRssBytes?: number;
}

const warned = new Set<string>();

/**
 * `threads`: the reference's thread count (default: every core). torch.set_num_threads does not reach
 * OpenBLAS's own pthread pool (Debian's torch with libopenblas0-pthread), which otherwise runs every GEMM on
 * all cores: measured here, a "1-thread" reference ran its products at 185 GFLOP/s on two cores against
 * 100 on one. So the pools are sized through the environment, before Python loads them: OpenBLAS (or MKL)
 * gets `threads`, OpenMP one (torch_reference.py then sets torch's own count; OpenMP × OpenBLAS threads
 * oversubscribe: 344 ms against 85 ms per tiny-4x256 step with two of each on two cores).
 */
export function torchReference(request: { task: 'generate' | 'train'; shape: ShapeSpec; [key: string]: unknown }, threads?: number): ReferenceResult | undefined {
  const python = pythonForReference(request.shape);
  if (!python) {
    const setup = request.shape.path?.endsWith('.gguf') ? 'python/setup-bench-venv.sh' : 'python/setup-venv.sh';
    if (!warned.has(setup)) console.error(`  (no PyTorch reference for ${request.shape.name}: run \`bash ${setup}\` or set PREFIXLAB_PYTHON)`);
    warned.add(setup);
    return undefined;
  }
  threads ??= os.availableParallelism?.() ?? os.cpus().length;
  const result = spawnSync(python, [resolve(repoRoot, 'bench/torch_reference.py')], {
    input: JSON.stringify({ ...request, threads }),
    env: referenceEnv({ OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), OMP_NUM_THREADS: '1' }),
    encoding: 'utf8',
    timeout: 1_800_000,
    maxBuffer: 16 * 2 ** 20,
  });
  if (result.status !== 0) {
    console.error(`  PyTorch reference failed: ${referenceFailure(result)}`);
    return undefined;
  }
  return JSON.parse(result.stdout.trim().split('\n').slice(-1)[0]!) as ReferenceResult;
}

/**
 * Why a reference process failed, in one line: how it ended (a signal such as the out-of-memory killer's SIGKILL,
 * or its exit status) and the last line of its stderr that is not a progress bar's redraw (transformers' GGUF loader
 * draws one with carriage returns, which used to be all a failure showed).
 */
export function referenceFailure(result: { status: number | null; signal: NodeJS.Signals | null; stderr?: string | null; error?: Error }): string {
  const ended = result.error ? String(result.error) : result.signal ? `killed by ${result.signal}` : `exit status ${result.status}`;
  const lines = (result.stderr ?? '')
    .split('\n')
    .map((line) => line.split('\r').pop()!.trim())
    .filter((line) => line && !/^[^:]*:\s*\d+%\|/.test(line));
  const last = lines.at(-1);
  return last ? `${ended}: ${last}` : ended;
}
