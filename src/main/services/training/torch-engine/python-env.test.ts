// Finding and probing the torch engine's Python, with a fake interpreter (fake-python.ts): precedence of
// --python, $PREFIXLAB_PYTHON, .venv and PATH; what the probe reports; one clear line for each thing missing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiError } from '@shared/errors';
import { fakePythonEnv, writeFakePython } from './fake-python';
import { findPython, INSTALL_COMMAND, missingLine, probePython, pythonStatus, requireTorchPython } from './python-env';

let dir: string;
let fake: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-pyenv-'));
  fake = writeFakePython(join(dir, 'bin'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected an error');
}

describe('findPython', () => {
  it('takes --python first, then $PREFIXLAB_PYTHON, then the repo .venv, then python3 on PATH', () => {
    const root = join(dir, 'repo');
    mkdirSync(join(root, '.venv', 'bin'), { recursive: true });
    const venv = writeFakePython(join(root, '.venv', 'bin'));
    const pathDir = join(dir, 'pathbin');
    mkdirSync(pathDir, { recursive: true });
    writeFileSync(join(pathDir, 'python3'), '#!/bin/sh\n', { mode: 0o755 });
    const env = { PATH: pathDir, PREFIXLAB_PYTHON: fake };
    expect(findPython({ flag: fake, env: { PATH: pathDir }, root })).toEqual({ path: fake, source: '--python' });
    expect(findPython({ env, root })).toEqual({ path: fake, source: 'PREFIXLAB_PYTHON' });
    expect(findPython({ env: { PATH: pathDir }, root })).toEqual({ path: venv, source: '.venv' });
    expect(findPython({ env: { PATH: pathDir }, root: null })).toEqual({ path: join(pathDir, 'python3'), source: 'PATH' });
  });

  it('names a --python or $PREFIXLAB_PYTHON that is not there, and says how to install when nothing is found', () => {
    const missing = errorOf(() => findPython({ flag: join(dir, 'nope', 'python'), env: {}, root: null }));
    expect(missing).toMatchObject({ field: '--python', file: join(dir, 'nope', 'python'), message: 'no such file' });
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'x');
    expect(errorOf(() => findPython({ env: { PREFIXLAB_PYTHON: plain }, root: null }))).toMatchObject({
      field: 'PREFIXLAB_PYTHON',
      file: plain,
      message: 'not an executable file',
    });
    const none = errorOf(() => findPython({ env: { PATH: join(dir, 'empty') }, root: null }));
    expect(none.message).toContain('no Python found for the torch engine');
    expect(none.message).toContain(INSTALL_COMMAND);
  });
});

describe('probePython', () => {
  it('reports the versions, the devices and that the engine imports', async () => {
    const report = await probePython({ path: fake, source: '--python' }, { env: fakePythonEnv() });
    expect(report).toMatchObject({ python: fake, pythonVersion: '3.11.2', missing: [], hasEngine: true, devices: [{ kind: 'cpu', name: 'cpu' }] });
    expect(report.packages).toEqual({ torch: '9.9.5', transformers: '9.9.12', peft: '9.9.4', accelerate: '9.9.10' });
    expect(missingLine(report)).toBeNull();
  });

  it('says exactly which packages are missing and the command that installs them', async () => {
    const report = await probePython({ path: fake, source: '--python' }, { env: fakePythonEnv({ missing: ['peft', 'accelerate'] }) });
    expect(report.missing).toEqual(['peft', 'accelerate']);
    expect(missingLine(report)).toBe(`--python ${fake} lacks peft, accelerate; install the torch engine's dependencies with: ${INSTALL_COMMAND}`);
    const noEngine = await probePython({ path: fake, source: '--python' }, { env: fakePythonEnv({ noEngine: true }) });
    expect(missingLine(noEngine)).toContain('cannot import prefixlab_torch');
  });

  it('fails with one line when the interpreter hangs or is not Python', async () => {
    await expect(probePython({ path: fake, source: '--python' }, { env: fakePythonEnv({ hang: true }), timeoutMs: 1500 })).rejects.toThrow(
      `--python ${fake} could not be probed: did not answer within 2 s`,
    );
    await expect(probePython({ path: fake, source: 'PATH' }, { env: fakePythonEnv({ notPython: true }) })).rejects.toThrow(/is not a Python 3 interpreter/);
  });

  it('requireTorchPython fails with the missing line', async () => {
    await expect(requireTorchPython({ flag: fake, env: fakePythonEnv({ missing: ['torch'] }), root: null })).rejects.toThrow(`--python ${fake} lacks torch;`);
  });
});

describe('pythonStatus (Settings)', () => {
  it('shows the Python found with its versions and devices', async () => {
    const status = await pythonStatus({ env: { ...fakePythonEnv(), PREFIXLAB_PYTHON: fake }, root: null });
    expect(status).toMatchObject({ python: fake, source: 'PREFIXLAB_PYTHON', isReady: true, problem: null, missing: [], installCommand: INSTALL_COMMAND });
    expect(status.packages.accelerate).toBe('9.9.10');
  });

  it('says exactly what is missing, and what to run', async () => {
    const status = await pythonStatus({ env: { ...fakePythonEnv({ missing: ['transformers'] }), PREFIXLAB_PYTHON: fake }, root: null });
    expect(status).toMatchObject({
      isReady: false,
      missing: ['transformers'],
      problem: `PREFIXLAB_PYTHON ${fake} lacks transformers; install the torch engine's dependencies with: ${INSTALL_COMMAND}`,
    });
    const none = await pythonStatus({ env: { PATH: join(dir, 'empty') }, root: null });
    expect(none).toMatchObject({ python: null, isReady: false, missing: ['torch', 'transformers', 'peft', 'accelerate'] });
    expect(none.problem).toContain('no Python found for the torch engine');
  });
});
