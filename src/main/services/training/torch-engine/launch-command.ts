// The command line that starts a torch run: `accelerate launch` (so DDP, FSDP and DeepSpeed are accelerate
// configs, not our code) for several processes or a config file, plain `python -m` for one process. accelerate
// is run as `python -m accelerate.commands.launch` so it is the chosen interpreter's own, whatever is on PATH.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiError } from '@shared/errors';

export interface LaunchOptions {
  python: string;
  /** Processes (--nproc); default 1. */
  nproc?: number;
  /** An accelerate config file (--accelerate-config). */
  accelerateConfig?: string;
  handoffDir: string;
  runDir: string;
  resume?: boolean;
}

export const ENGINE_MODULE = 'prefixlab_torch.train';

/** `--nproc`: a whole number ≥ 1, one line naming the flag otherwise. */
export function checkNproc(nproc: number | undefined): number {
  if (nproc === undefined) return 1;
  if (!Number.isInteger(nproc) || nproc < 1) throw new ApiError('invalid_argument', `give a whole number of processes ≥ 1, got ${nproc}`, { field: '--nproc' });
  return nproc;
}

/** `--accelerate-config FILE`: an existing, readable file (accelerate itself checks what it says). */
export function checkAccelerateConfig(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const file = resolve(path);
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new ApiError('not_found', 'no such file', { field: '--accelerate-config', file });
  }
  if (!isFile) throw new ApiError('invalid_argument', 'not a file', { field: '--accelerate-config', file });
  try {
    const fd = openSync(file, 'r');
    try {
      readSync(fd, Buffer.alloc(1), 0, 1, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new ApiError('invalid_argument', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { field: '--accelerate-config', file });
  }
  return file;
}

/**
 * The program, its arguments and extra environment. Several processes without a config go through accelerate's
 * torchrun path (`--multi_gpu`), which also runs CPU ranks on gloo when there is no GPU: its `--cpu` path starts
 * one process whatever `--num_processes` says. Debian's torch 1.13 torchrun cannot parse its own default `0`
 * for --redirects/--tee on Python 3.11, so both are given (stderr teed to per-rank logs in the run folder).
 */
export function buildLaunchCommand(opts: LaunchOptions): { command: string; args: string[]; env: Record<string, string> } {
  const nproc = checkNproc(opts.nproc);
  const engineArgs = ['-m', ENGINE_MODULE, '--handoff', opts.handoffDir, '--run-dir', opts.runDir, ...(opts.resume ? ['--resume'] : [])];
  if (nproc === 1 && opts.accelerateConfig === undefined) return { command: opts.python, args: engineArgs, env: {} };
  const launch =
    opts.accelerateConfig !== undefined
      ? ['--config_file', opts.accelerateConfig, ...(opts.nproc !== undefined ? ['--num_processes', String(nproc)] : [])]
      : ['--multi_gpu', '--num_machines', '1', '--num_processes', String(nproc), '--mixed_precision', 'no', '--dynamo_backend', 'no'];
  return {
    command: opts.python,
    args: ['-m', 'accelerate.commands.launch', ...launch, '--tee', '2', '--log_dir', join(opts.runDir, 'launch-logs'), ...engineArgs],
    env: { PET_REDIRECTS: '2' },
  };
}
