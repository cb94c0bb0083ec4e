// Which Python the torch engine runs, and what it has: `--python PATH`, else $PREFIXLAB_PYTHON, else the
// repository's .venv (a dev checkout), else python3 on PATH. One bounded child-process call reports the
// versions of torch, transformers, peft, accelerate (and our prefixlab_torch package) and the devices torch sees.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { PythonStatus } from '@shared/contract/system';
import { ApiError, formatApiError } from '@shared/errors';

/** The command that installs the engine's pinned dependencies into the repository's .venv. */
export const INSTALL_COMMAND = 'bash python/setup-venv.sh';

/** Packages the engine needs, in the order they are reported. */
export const REQUIRED_PACKAGES = ['torch', 'transformers', 'peft', 'accelerate'] as const;

export type PythonSource = '--python' | 'PREFIXLAB_PYTHON' | '.venv' | 'PATH';

export interface PythonChoice {
  path: string;
  source: PythonSource;
}

export interface PythonDevice {
  kind: 'cpu' | 'cuda' | 'mps';
  name: string;
}

export interface PythonReport {
  python: string;
  source: PythonSource;
  pythonVersion: string;
  /** Version per package; null where it does not import. */
  packages: Record<string, string | null>;
  devices: PythonDevice[];
  /** Required packages that do not import (empty: the engine can run). */
  missing: string[];
  /** Whether our package (python/prefixlab_torch) imports with the repository's python/ folder on the path. */
  hasEngine: boolean;
}

/** The repository root (holds python/setup-venv.sh): from the sources, the built out/ or a test, walking up. */
export function repoRoot(from: string = __dirname): string | null {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'python', 'setup-venv.sh'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The repository's python/ folder, where prefixlab_torch lives (put on PYTHONPATH when it is not pip-installed). */
export function enginePythonPath(root: string | null = repoRoot()): string | null {
  return root && existsSync(join(root, 'python')) ? join(root, 'python') : null;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, envPath: string | undefined): string | null {
  for (const dir of (envPath ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * The Python to run, by precedence. A given `--python` or $PREFIXLAB_PYTHON that is not an executable file is an
 * error naming it (never a silent fall-through to another interpreter).
 */
export function findPython(opts: { flag?: string; env?: NodeJS.ProcessEnv; root?: string | null } = {}): PythonChoice {
  const env = opts.env ?? process.env;
  const explicit: [PythonSource, string | undefined][] = [
    ['--python', opts.flag],
    ['PREFIXLAB_PYTHON', env.PREFIXLAB_PYTHON || undefined],
  ];
  for (const [source, value] of explicit) {
    if (value === undefined) continue;
    const path = resolve(value);
    // The terminal line reads "<file>: <source>: <cause>" (formatApiError).
    if (!existsSync(path)) throw new ApiError('not_found', 'no such file', { field: source, file: path });
    if (!isExecutable(path)) throw new ApiError('invalid_argument', 'not an executable file', { field: source, file: path });
    return { path, source };
  }
  const root = opts.root === undefined ? repoRoot() : opts.root;
  const venv = root ? join(root, '.venv', 'bin', 'python') : null;
  if (venv && isExecutable(venv)) return { path: venv, source: '.venv' };
  const system = onPath('python3', env.PATH);
  if (system) return { path: system, source: 'PATH' };
  throw new ApiError('not_found', `no Python found for the torch engine (no --python, no $PREFIXLAB_PYTHON, no .venv, no python3 on PATH); install it with: ${INSTALL_COMMAND}`, {
    field: '--python',
  });
}

// Printed as one JSON line; every import is guarded so one broken package does not hide the others.
const PROBE = `
import importlib, json, sys
out = {"python": sys.version.split()[0], "packages": {}, "devices": [{"kind": "cpu", "name": "cpu"}], "engine": False}
for name in ${JSON.stringify(REQUIRED_PACKAGES)}:
    try:
        out["packages"][name] = str(importlib.import_module(name).__version__)
    except Exception:
        out["packages"][name] = None
try:
    import torch
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out["devices"].append({"kind": "cuda", "name": torch.cuda.get_device_name(i)})
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out["devices"].append({"kind": "mps", "name": "mps"})
except Exception:
    pass
try:
    importlib.import_module("prefixlab_torch")
    out["engine"] = True
except Exception:
    pass
print(json.dumps(out))
`;

/** Environment for the engine's Python: the repository's python/ folder first on PYTHONPATH. */
export function engineEnv(env: NodeJS.ProcessEnv = process.env, pythonPath: string | null = enginePythonPath()): NodeJS.ProcessEnv {
  if (!pythonPath) return { ...env };
  return { ...env, PYTHONPATH: env.PYTHONPATH ? `${pythonPath}${delimiter}${env.PYTHONPATH}` : pythonPath };
}

/** Runs the probe in `choice`'s Python: bounded in time (importing torch can take seconds) and in output. */
export function probePython(choice: PythonChoice, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PythonReport> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    execFile(choice.path, ['-c', PROBE], { timeout: timeoutMs, maxBuffer: 256 * 1024, env: opts.env ?? engineEnv(), killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const who = `${choice.source} ${choice.path}`;
      if (err) {
        const killed = (err as { killed?: boolean }).killed;
        const why = killed ? `did not answer within ${Math.round(timeoutMs / 1000)} s` : lastLine(String(stderr)) || err.message.split('\n')[0];
        reject(new ApiError('unsupported', `${who} could not be probed: ${why}`));
        return;
      }
      const line = String(stdout).trim().split('\n').pop() ?? '';
      let raw: { python?: unknown; packages?: Record<string, unknown>; devices?: unknown; engine?: unknown };
      try {
        raw = JSON.parse(line);
      } catch {
        reject(new ApiError('unsupported', `${who} is not a Python 3 interpreter (its probe printed "${line.slice(0, 80)}")`));
        return;
      }
      const packages: Record<string, string | null> = {};
      for (const name of REQUIRED_PACKAGES) packages[name] = typeof raw.packages?.[name] === 'string' ? (raw.packages[name] as string) : null;
      const devices = Array.isArray(raw.devices) ? (raw.devices as PythonDevice[]).filter((d) => d && ['cpu', 'cuda', 'mps'].includes(d.kind) && typeof d.name === 'string') : [];
      resolvePromise({
        python: choice.path,
        source: choice.source,
        pythonVersion: typeof raw.python === 'string' ? raw.python : 'unknown',
        packages,
        devices,
        missing: REQUIRED_PACKAGES.filter((name) => packages[name] === null),
        hasEngine: raw.engine === true,
      });
    });
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop()?.slice(0, 300) ?? '';
}

/** The one line that says what a report lacks for training, or null when the engine can run. */
export function missingLine(report: PythonReport): string | null {
  const who = `${report.source} ${report.python}`;
  if (report.missing.length) return `${who} lacks ${report.missing.join(', ')}; install the torch engine's dependencies with: ${INSTALL_COMMAND}`;
  if (!report.hasEngine) return `${who} cannot import prefixlab_torch (python/prefixlab_torch); install it with: ${INSTALL_COMMAND}`;
  return null;
}

/** What Settings shows (system.python): the Python found and what it has, or exactly what is missing. */
export async function pythonStatus(opts: { env?: NodeJS.ProcessEnv; root?: string | null; timeoutMs?: number } = {}): Promise<PythonStatus> {
  const empty = { python: null, source: null, pythonVersion: null, packages: Object.fromEntries(REQUIRED_PACKAGES.map((p) => [p, null])), devices: [], hasEngine: false };
  let choice: PythonChoice;
  try {
    choice = findPython(opts);
  } catch (err) {
    return { ...empty, missing: [...REQUIRED_PACKAGES], isReady: false, problem: errorLine(err), installCommand: INSTALL_COMMAND };
  }
  try {
    const root = opts.root === undefined ? repoRoot() : opts.root;
    const report = await probePython(choice, { timeoutMs: opts.timeoutMs, env: engineEnv(opts.env ?? process.env, enginePythonPath(root)) });
    const problem = missingLine(report);
    return {
      python: report.python,
      source: report.source,
      pythonVersion: report.pythonVersion,
      packages: report.packages,
      devices: report.devices,
      missing: report.missing,
      hasEngine: report.hasEngine,
      isReady: problem === null,
      problem,
      installCommand: INSTALL_COMMAND,
    };
  } catch (err) {
    return { ...empty, python: choice.path, source: choice.source, missing: [...REQUIRED_PACKAGES], isReady: false, problem: errorLine(err), installCommand: INSTALL_COMMAND };
  }
}

function errorLine(err: unknown): string {
  return err instanceof ApiError ? formatApiError(err) : err instanceof Error ? err.message : String(err);
}

/** Finds and probes the Python; fails with the one line that says what is missing. */
export async function requireTorchPython(opts: { flag?: string; env?: NodeJS.ProcessEnv; root?: string | null; timeoutMs?: number } = {}): Promise<PythonReport> {
  const choice = findPython(opts);
  const report = await probePython(choice, {
    timeoutMs: opts.timeoutMs,
    env: engineEnv(opts.env ?? process.env, enginePythonPath(opts.root === undefined ? repoRoot() : opts.root)),
  });
  const missing = missingLine(report);
  if (missing) throw new ApiError('unsupported', missing);
  return report;
}
