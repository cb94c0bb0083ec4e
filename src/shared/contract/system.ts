// system.*: what the app runs on, and the compute backend.
import { z } from 'zod';
import { call } from './define';

export const BackendNameSchema = z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendNameSchema>;

export const BackendStatusSchema = z.object({
  name: BackendNameSchema,
  available: z.boolean(),
  /** Why the backend cannot be used; absent when available. */
  reason: z.string().optional(),
});

export const SystemInfoSchema = z.object({
  appVersion: z.string(),
  tfjsVersion: z.string(),
  /** The backend every computation runs on now. */
  backend: BackendNameSchema,
  /** Every candidate in fallback order, each with the reason it cannot be loaded. */
  backends: z.array(BackendStatusSchema),
  cpuCores: z.number().int(),
  totalMemoryBytes: z.number(),
  freeMemoryBytes: z.number(),
  platform: z.string(),
  nodeVersion: z.string(),
  /** 'electron' or 'headless' (prefixlab serve / CLI). */
  shell: z.enum(['electron', 'headless']),
  /** The app's data folder (registry of models, datasets, runs, adapters). */
  home: z.string(),
});
export type SystemInfo = z.infer<typeof SystemInfoSchema>;

/** The torch engine's Python (python/prefixlab_torch): what was found, or exactly what is missing. */
export const PythonStatusSchema = z.object({
  /** The interpreter, and how it was chosen ($PREFIXLAB_PYTHON, the repository's .venv, python3 on PATH); null when none. */
  python: z.string().nullable(),
  source: z.string().nullable(),
  pythonVersion: z.string().nullable(),
  /** torch, transformers, peft, accelerate → version, or null where it does not import. */
  packages: z.record(z.string(), z.string().nullable()),
  devices: z.array(z.object({ kind: z.enum(['cpu', 'cuda', 'mps']), name: z.string() })),
  /** Required packages that do not import. */
  missing: z.array(z.string()),
  /** Whether python/prefixlab_torch imports. */
  hasEngine: z.boolean(),
  /** Whether `--engine torch` can run. */
  isReady: z.boolean(),
  /** What is wrong, in one line (null when ready). */
  problem: z.string().nullable(),
  /** The command that installs what is missing. */
  installCommand: z.string(),
});
export type PythonStatus = z.infer<typeof PythonStatusSchema>;

export const systemCalls = {
  'system.info': call(z.object({}).strict(), SystemInfoSchema, 'App, TensorFlow.js and machine facts, with the active backend.'),
  'system.setBackend': call(
    z.object({ backend: z.union([BackendNameSchema, z.literal('auto')]) }).strict(),
    SystemInfoSchema,
    'Switch the compute backend ("auto" = the fastest that loads); fails with the reason when it cannot load.',
  ),
  'system.python': call(
    z.object({}).strict(),
    PythonStatusSchema,
    "The torch engine's Python: its torch/transformers/peft/accelerate versions and devices, or what is missing and the command that installs it.",
  ),
};
