// An export never deletes what it did not write: output folders are compared with the data folder, the served
// roots and every model/dataset the registry points to by REAL path (a symlinked --home is the same folder),
// `force` replaces only an empty folder or an earlier export, a failure midway leaves the earlier export whole,
// and a Prefix-Tuning+ export carries its Python loader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatApiError } from '@shared/errors';
import { createAppContext } from '../app/context';
import { toErrorData } from '../platform/system-errors';
import { initBackend } from '../engine/backend';
import { fixturesDir, repoRoot } from '../engine/test-paths';
import { handlers } from '../handlers';
import { createDispatcher } from '../rpc/dispatch';
import { listAdapters } from '../services/registry-service';
import { exportAdapter } from './export-adapter';
import { EXPORT_MARKER_FILE } from './export-marker';
import { makeRandomAdapter } from './testing/random-adapter';
import { cli } from '../cli/cli-harness';

const model = (name: string): string => join(fixturesDir, name);

/** Every file under `dir` with its bytes, for "left exactly as it was". */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files[join(entry.parentPath, entry.name).slice(dir.length + 1)] = readFileSync(join(entry.parentPath, entry.name)).toString('base64');
  }
  return files;
}

describe('export safety', () => {
  let tmp: string;
  let realHome: string;
  let link: string;
  let out: string;
  let loraId: string;

  beforeAll(async () => {
    await initBackend('cpu');
    tmp = realpathSync(mkdtempSync(join(tmpdir(), 'prefixlab-export-safety-')));
    realHome = join(tmp, 'REAL');
    mkdirSync(realHome);
    link = join(tmp, 'LINK');
    symlinkSync(realHome, link);
    out = join(tmp, 'out');
    mkdirSync(out);
    loraId = (await makeRandomAdapter(realHome, model('llama-gqa'), 'lora', { rank: 2 })).id;
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const registryIntact = async (): Promise<void> => {
    expect((await listAdapters(link)).adapters.map((a) => a.id)).toContain(loraId);
    expect(existsSync(join(realHome, 'adapters', loraId, 'adapter.safetensors'))).toBe(true);
  };

  it('--home LINK with --out REAL --force is refused and the registry stays (service and CLI)', async () => {
    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: realHome, force: true })).rejects.toThrow(
      `output folder ${realHome} is the data folder (${realHome})`,
    );
    await expect(exportAdapter({ home: realHome, id: loraId, format: 'peft', outDir: link, force: true })).rejects.toThrow(/ is the data folder /);
    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: tmp, force: true })).rejects.toThrow(
      `output folder ${tmp} contains the data folder (${realHome})`,
    );
    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: join(realHome, 'runs', 'x'), force: true })).rejects.toThrow(
      / lies inside the data folder's runs /,
    );
    await registryIntact();

    const refused = await cli(['export', loraId, '--format', 'peft', '--out', realHome, '--force', '--home', link, '--backend', 'cpu']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^prefixlab: export: outDir: output folder .* is the data folder/);
    const listed = await cli(['adapters', 'list', '--json', '--home', link]);
    expect(JSON.parse(listed.stdout).adapters.map((a: { id: string }) => a.id)).toContain(loraId);
    await registryIntact();
  });

  it('over serve: adapters.export into the real home or a served root is refused; inside a served root works', async () => {
    const served = join(tmp, 'served');
    mkdirSync(served);
    const dispatch = createDispatcher(handlers, createAppContext({ home: link, shell: 'headless', roots: [served] }));
    const home = await dispatch('adapters.export', { id: loraId, format: 'peft', outDir: realHome, force: true });
    expect(home).toMatchObject({ ok: false, error: { code: 'invalid_argument', field: 'outDir' } });
    expect(!home.ok && home.error.message).toMatch(/ is the data folder /);
    const root = await dispatch('adapters.export', { id: loraId, format: 'peft', outDir: served, force: true });
    expect(!root.ok && root.error.message).toMatch(/ is a served folder /);
    await registryIntact();
    const inside = await dispatch('adapters.export', { id: loraId, format: 'peft', outDir: join(served, 'my-export'), force: false });
    expect(inside.ok).toBe(true);
    expect(readdirSync(join(served, 'my-export'))).toContain(EXPORT_MARKER_FILE);
  });

  it('refuses folders the registry points to: a model folder, a dataset folder, a folder holding a dataset file', async () => {
    const otherModel = join(tmp, 'other-model');
    const dataFolder = join(tmp, 'data-folder');
    const dataFileDir = join(tmp, 'data-files');
    for (const dir of [otherModel, dataFolder, dataFileDir]) mkdirSync(dir);
    writeFileSync(join(dataFileDir, 'train.csv'), 'text,label\na,b\n');
    const entry = (kind: string, id: string, manifest: object): void => {
      mkdirSync(join(realHome, kind, id), { recursive: true });
      writeFileSync(join(realHome, kind, id, 'manifest.json'), JSON.stringify(manifest));
    };
    entry('models', 'other-model-abc123', { id: 'other-model-abc123', name: 'other', path: otherModel, format: 'hf' });
    entry('datasets', 'folder-ds-abc123', { id: 'folder-ds-abc123', name: 'folder ds', source: { path: dataFolder, sha256: 'x', bytes: 1 } });
    entry('datasets', 'file-ds-abc123', { id: 'file-ds-abc123', name: 'file ds', source: { path: join(dataFileDir, 'train.csv'), sha256: 'x', bytes: 1 } });

    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: join(otherModel, 'exp') })).rejects.toThrow(/ lies inside model other \(/);
    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: otherModel, force: true })).rejects.toThrow(/ is model other \(/);
    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: join(dataFolder, 'exp') })).rejects.toThrow(/ lies inside dataset folder ds \(/);
    await expect(exportAdapter({ home: link, id: loraId, format: 'peft', outDir: dataFileDir, force: true })).rejects.toThrow(/ contains dataset file ds \(/);
    await expect(exportAdapter({ home: link, id: loraId, format: 'merged', outDir: join(model('llama-gqa'), 'exp') })).rejects.toThrow(
      / lies inside (the base model|the model of adapter)/,
    );
    // A new folder beside a dataset file is fine.
    const beside = await exportAdapter({ home: link, id: loraId, format: 'peft', outDir: join(dataFileDir, 'exp') });
    expect(beside.parity.ok).toBe(true);
    expect(readFileSync(join(dataFileDir, 'train.csv'), 'utf8')).toBe('text,label\na,b\n');
  });

  it('a full disk midway through a forced re-export leaves the earlier export whole and names the file', async () => {
    const dir = join(out, 'again');
    await exportAdapter({ home: link, id: loraId, format: 'peft', outDir: dir });
    const before = snapshot(dir);
    process.env.PREFIXLAB_INJECT_ENOSPC = 'parity.json';
    let err: unknown;
    try {
      await exportAdapter({ home: link, id: loraId, format: 'merged', outDir: dir, force: true });
    } catch (e) {
      err = e;
    } finally {
      delete process.env.PREFIXLAB_INJECT_ENOSPC;
    }
    expect(formatApiError(toErrorData(err))).toBe(`${join(dir, 'parity.json')}: the disk is full (ENOSPC)`);
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a Prefix-Tuning+ export carries the Python loader, listed in its marker, and can be replaced whole', async () => {
    const ptplusId = (await makeRandomAdapter(realHome, model('llama-gqa'), 'ptplus', {})).id;
    const dir = join(out, 'ptplus');
    const result = await exportAdapter({ home: link, id: ptplusId, format: 'ptplus', outDir: dir });
    expect(result.files).toEqual(['.prefixlab-export.json', 'adapter_config.json', 'adapter_model.safetensors', 'parity.json', 'prefixlab_ptplus']);
    const loader = join(dir, 'prefixlab_ptplus');
    for (const name of readdirSync(join(repoRoot, 'python', 'prefixlab_ptplus')).filter((n) => /\.(py|md|toml)$/.test(n))) {
      expect(readFileSync(join(loader, name), 'utf8')).toBe(readFileSync(join(repoRoot, 'python', 'prefixlab_ptplus', name), 'utf8'));
    }
    const marker = JSON.parse(readFileSync(join(dir, EXPORT_MARKER_FILE), 'utf8'));
    expect(marker).toMatchObject({ version: 1, writtenBy: 'PrefixLab', format: 'ptplus', source: ptplusId });
    expect(marker.files).toEqual(expect.arrayContaining(['adapter_config.json', 'prefixlab_ptplus/__init__.py', 'prefixlab_ptplus/loader.py']));
    // Re-exporting over it (nested loader folder included) replaces it and leaves nothing behind.
    await exportAdapter({ home: link, id: ptplusId, format: 'ptplus', outDir: dir, force: true });
    expect(readdirSync(dir).sort()).toEqual(result.files);
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  it.skipIf(!python)('python finds the loader package from the export folder (and imports it where .venv has torch)', () => {
    const dir = join(out, 'ptplus');
    const found = execFileSync(python!, ['-c', 'import importlib.util, sys; sys.path.insert(0, sys.argv[1]); print(importlib.util.find_spec("prefixlab_ptplus").origin)', dir], {
      encoding: 'utf8',
    });
    expect(found.trim()).toBe(join(dir, 'prefixlab_ptplus', '__init__.py'));
    execFileSync(python!, ['-m', 'py_compile', join(dir, 'prefixlab_ptplus', '__init__.py'), join(dir, 'prefixlab_ptplus', 'loader.py')]);
    const venv = join(repoRoot, '.venv', 'bin', 'python');
    if (existsSync(venv)) {
      const imported = execFileSync(venv, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import prefixlab_ptplus; print(prefixlab_ptplus.__file__)', dir], {
        encoding: 'utf8',
      });
      expect(imported.trim()).toBe(join(dir, 'prefixlab_ptplus', '__init__.py'));
    } else {
      console.log(`skipping the full import of prefixlab_ptplus: ${venv} not found (bash python/setup-venv.sh)`);
    }
  });
});
