// Checkpoint folders: checkpoints/step-000123/{adapter.safetensors, optimizer.safetensors, state.json}.
// A checkpoint is written into a hidden temp folder, every file fsynced, then the folder is renamed into
// place and the parent fsynced — so a step-* folder is only ever visible complete.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ApiError, zodIssueError } from '@shared/errors';
import { plainCause } from '../../platform/system-errors';
import { fsyncDir, writeJsonAtomic } from '../../platform/atomic-write';
import { SafetensorsReader, writeSafetensorsFrom, type F32Source } from '../io/safetensors';
import type { StateDict } from '../methods/method';
import { readStateDictFile } from '../io/state-dict-file';
import type { OptimizerSources, OptimizerState } from './adamw';
import type { RngState } from '../../platform/rng';

/** Where the data stream stands and everything else that is not a tensor. */
export interface TrainerState {
  version: 1;
  method: string;
  /** Optimiser steps completed. */
  step: number;
  /** Epochs started (0-based index of the current epoch). */
  epoch: number;
  /** Next batch of the current epoch's order. */
  cursor: number;
  /** The current epoch's batches (indices into the encoded training examples). */
  order: number[][];
  /** Generator state after planning the current epoch. */
  rng: RngState;
  tokensSeen: number;
  /** Train loss of the last step. */
  lastTrainLoss: number | null;
  /** Milliseconds spent in training steps so far (for tokens/s across resumes). */
  trainMs: number;
  /** The adapter's random stream (LoRA dropout), when it has one. */
  adapterRandomState?: number;
}

export interface Checkpoint {
  dir: string;
  adapter: StateDict;
  optimizer: OptimizerState;
  state: TrainerState;
}

const count = z.number().int().min(0);
/** state.json as written by writeCheckpoint; cursor may equal order.length (the epoch ended at the checkpoint). */
const TrainerStateSchema = z
  .object({
    version: z.literal(1),
    method: z.string(),
    step: count,
    epoch: count,
    cursor: count,
    order: z.array(z.array(count)),
    rng: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
    tokensSeen: z.number().min(0),
    lastTrainLoss: z.number().nullable(),
    trainMs: z.number().min(0),
    adapterRandomState: z.number().optional(),
  })
  .refine((s) => s.cursor <= s.order.length, { message: 'cursor is past the end of the epoch order', path: ['cursor'] });

const CHECKPOINT_DIR = /^step-(\d{6,})$/;

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/**
 * Writes a checkpoint under `root` (the run's checkpoints folder); returns its folder. Tensors are read one at a
 * time as they are written, so a checkpoint of full fine-tuning costs one tensor's copy, not the model's.
 */
export async function writeCheckpoint(root: string, adapter: Record<string, F32Source>, optimizer: OptimizerSources, state: TrainerState): Promise<string> {
  mkdirSync(root, { recursive: true });
  const name = checkpointName(state.step);
  const finalDir = join(root, name);
  const tempDir = join(root, `.${name}.${process.pid}.tmp`);
  rmSync(tempDir, { recursive: true, force: true });
  mkdirSync(tempDir);
  try {
    writeSafetensorsFrom(join(tempDir, 'adapter.safetensors'), adapter, { format: 'pt', method: state.method, step: String(state.step) });
    writeSafetensorsFrom(join(tempDir, 'optimizer.safetensors'), optimizer.tensors, { step: String(optimizer.step) });
    await writeJsonAtomic(join(tempDir, 'state.json'), state);
    await fsyncDir(tempDir);
    if (existsSync(finalDir)) {
      // Re-saving a step (a resumed run cancelled at once): swap the old folder out first.
      const old = join(root, `.${name}.${process.pid}.old`);
      renameSync(finalDir, old);
      renameSync(tempDir, finalDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tempDir, finalDir);
    }
    await fsyncDir(root);
  } catch (err) {
    rmSync(tempDir, { recursive: true, force: true });
    throw checkpointWriteError(err, root, state.step);
  }
  return finalDir;
}

/** A failed checkpoint write as one line that says why the run stops and what is still safe. */
function checkpointWriteError(err: unknown, root: string, step: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof ApiError || typeof code !== 'string') return err;
  const why = plainCause(err);
  const previous = listCheckpoints(root).pop();
  const kept = previous ? `the checkpoint of step ${previous.step} is intact; free space and resume from it` : 'no earlier checkpoint exists';
  return new ApiError('io_error', `could not write the checkpoint of step ${step}: ${why}; ${kept}`, { file: root });
}

export function readCheckpoint(dir: string): Checkpoint {
  const statePath = join(dir, 'state.json');
  if (!existsSync(statePath)) throw new ApiError('not_found', 'checkpoint has no state.json', { file: statePath });
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(statePath, 'utf8'));
  } catch (err) {
    throw new ApiError('bad_file', `checkpoint state is not valid JSON (${(err as Error).message})`, { file: statePath });
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (raw && typeof raw === 'object' && version !== undefined && version !== 1) {
    throw new ApiError('unsupported', `checkpoint state version ${JSON.stringify(version)?.slice(0, 40)} is not supported`, { file: statePath, field: 'version' });
  }
  // Resume indexes examples and the generator with these values: a damaged file must fail here, by field.
  const parsed = TrainerStateSchema.safeParse(raw);
  if (!parsed.success) throw zodIssueError(parsed.error, 'bad_file', 'checkpoint state is damaged', { file: statePath });
  const state = parsed.data as TrainerState;
  const optimizerPath = join(dir, 'optimizer.safetensors');
  const optimizerReader = SafetensorsReader.open(optimizerPath);
  const optimizerStep = Number(optimizerReader.metadata.step ?? state.step);
  optimizerReader.close();
  return {
    dir,
    adapter: readStateDictFile(join(dir, 'adapter.safetensors')),
    optimizer: { step: optimizerStep, tensors: readStateDictFile(optimizerPath) },
    state,
  };
}

/** Complete checkpoint folders under `root`, oldest first. */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ name, match: CHECKPOINT_DIR.exec(name) }))
    .filter((e) => e.match)
    .map((e) => ({ step: Number(e.match![1]), dir: join(root, e.name) }))
    .sort((a, b) => a.step - b.step);
}

/** Removes all but the newest `keep` checkpoints (0 = keep all) and any temp folders of dead writes. */
export function pruneCheckpoints(root: string, keep: number): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    if (name.startsWith('.') && (name.endsWith('.tmp') || name.endsWith('.old')) && !name.includes(`.${process.pid}.`)) {
      rmSync(join(root, name), { recursive: true, force: true });
    }
  }
  if (keep <= 0) return;
  const all = listCheckpoints(root);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    // Hide it first (one atomic rename), then delete: a kill during a recursive delete must never leave a
    // visible step-* folder with some of its files gone.
    const hidden = join(root, `.${basename(old.dir)}.${process.pid}.old`);
    try {
      renameSync(old.dir, hidden);
    } catch {
      continue;
    }
    rmSync(hidden, { recursive: true, force: true });
  }
}
