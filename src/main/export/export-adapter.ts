// exportAdapter: adapter (or finished run) → PEFT, merged or PT+ folder, checked by reloading what was written
// into our engine and comparing logits with the in-app model (max |Δ| ≤ 1e-4). Everything is written into a
// hidden temp folder beside outDir and renamed into place only after the check passes, so a failed export
// leaves nothing behind and an existing folder (replaced only with force) is never half-overwritten.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { LoadedModel } from '../engine/io/load-model';
import type { MethodName } from '../engine/methods/method';
import { writeSafetensors, type F32Tensor } from '../engine/io/safetensors';
import { fsyncDir, writeJsonAtomic } from '../registry/atomic-write';
import { attachWithState, loadBaseModel, logitsOf, type AttachedAdapter } from './engine-session';
import { writeMergedFolder } from './merged-format';
import { PARITY_FILE, PARITY_TOLERANCE, maxAbsDiff, parityFile, parityInputs } from './parity';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftExportFiles, readPeftFolder, type ExportFiles, type ReadBack } from './peft-format';
import { ptplusExportFiles, readPtplusFolder } from './ptplus-format';
import { resolveExportSource } from './source';

export type ExportFormat = 'peft' | 'merged' | 'ptplus';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['peft', 'merged', 'ptplus'];

/** Formats each method can be exported to. */
export const FORMATS_BY_METHOD: Record<MethodName, readonly ExportFormat[]> = {
  lora: ['peft', 'merged'],
  prefix: ['peft'],
  prompt: ['peft'],
  ptplus: ['ptplus'],
  full: ['merged'],
};

export interface ExportRequest {
  home: string;
  /** Adapter id, or the id of a finished run (its last checkpoint). */
  id: string;
  format: ExportFormat;
  /** Folder to create; must not exist unless `force` (then it is replaced after the check passes). */
  outDir: string;
  force?: boolean;
}

export interface ExportResult {
  format: ExportFormat;
  outDir: string;
  /** File names in outDir. */
  files: string[];
  parity: { maxAbsDiff: number; inputs: number[][]; ok: boolean };
}

// ---- checks before any work ----

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Refuses outDirs that exist (without force) or are files, that would swallow the home or the base model
 * (outDir at or above them), or that lie inside the base model or a registry folder.
 */
function checkOutDir(outDir: string, force: boolean, home: string, baseModelPath: string): void {
  const swallowed = [home, baseModelPath];
  const containers = [baseModelPath, ...(['models', 'datasets', 'runs', 'adapters'] as const).map((d) => join(home, d))];
  const clash = swallowed.find((path) => isInside(path, outDir)) ?? containers.find((path) => isInside(outDir, path));
  if (clash) throw new ApiError('invalid_argument', `output folder ${outDir} overlaps ${clash}; choose another folder`, { field: 'outDir' });
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new ApiError('already_exists', `${outDir} exists and is not a folder`, { field: 'outDir' });
  if (!force) throw new ApiError('already_exists', `output folder ${outDir} already exists; choose another folder, or replace it (--force on the command line, "replace the folder if it exists" in the app)`, { field: 'outDir' });
}

/** Creates the hidden temp folder beside outDir (and outDir's parents); a one-line error when that is impossible. */
function makeTempDir(outDir: string): string {
  const parent = dirname(outDir);
  const temp = join(parent, `.${basename(outDir)}.export-${process.pid}-${randomBytes(3).toString('hex')}.tmp`);
  try {
    mkdirSync(parent, { recursive: true });
    mkdirSync(temp);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent is not a folder' : code;
    throw new ApiError('forbidden', `cannot write to ${parent}: ${why}`, { field: 'outDir' });
  }
  return temp;
}

function toTensors(files: ExportFiles): Record<string, F32Tensor> {
  const out: Record<string, F32Tensor> = {};
  for (const name of Object.keys(files.tensors).sort()) out[name] = { dtype: 'F32', shape: files.tensors[name].shape, data: files.tensors[name].data };
  return out;
}

// ---- export ----

export async function exportAdapter(req: ExportRequest): Promise<ExportResult> {
  if (!EXPORT_FORMATS.includes(req.format)) {
    throw new ApiError('invalid_argument', `unknown export format ${JSON.stringify(req.format)} (use ${EXPORT_FORMATS.join(', ')})`, { field: 'format' });
  }
  if (typeof req.outDir !== 'string' || req.outDir.trim() === '') throw new ApiError('invalid_argument', 'an output folder is required', { field: 'outDir' });
  const source = resolveExportSource(req.home, req.id);
  const allowed = FORMATS_BY_METHOD[source.method] ?? [];
  if (!allowed.includes(req.format)) {
    throw new ApiError('unsupported', `${source.method} adapters export as ${allowed.join(' or ')}, not ${req.format}`, { field: 'format' });
  }
  const outDir = resolve(req.outDir);
  checkOutDir(outDir, req.force === true, resolve(req.home), resolve(source.baseModelPath));
  const temp = makeTempDir(outDir);
  const loaded: LoadedModel[] = [];
  const attached: AttachedAdapter[] = [];
  try {
    const base = await loadBaseModel(source.baseModelPath);
    loaded.push(base);
    const inApp = attachWithState(base, source.method, source.options, source.readState());
    attached.push(inApp);
    const virtualTokens = source.method === 'prompt' || source.method === 'prefix' ? Number(inApp.options.numVirtualTokens) : 0;
    const inputs = parityInputs(base.model.config, virtualTokens);
    const expected = await logitsOf(base, inputs, inApp.adapter);

    // Write, then read back what was written.
    let actual: Float32Array[];
    if (req.format === 'merged') {
      await writeMergedFolder(temp, base, inApp);
      const reloaded = await loadBaseModel(temp);
      loaded.push(reloaded);
      actual = await logitsOf(reloaded, inputs);
    } else {
      const files = req.format === 'peft' ? peftExportFiles(inApp, resolve(source.baseModelPath)) : ptplusExportFiles(inApp, resolve(source.baseModelPath));
      writeSafetensors(join(temp, PEFT_WEIGHTS_FILE), toTensors(files), { format: 'pt' });
      await writeJsonAtomic(join(temp, PEFT_CONFIG_FILE), files.config);
      const back: ReadBack = req.format === 'peft' ? readPeftFolder(temp) : readPtplusFolder(temp);
      const reloaded = attachWithState(base, back.method, back.options, back.state);
      attached.push(reloaded);
      actual = await logitsOf(base, inputs, reloaded.adapter);
    }

    const worst = maxAbsDiff(expected, actual);
    if (!(worst <= PARITY_TOLERANCE)) {
      throw new ApiError(
        'parity_failed',
        `export check failed: the reloaded ${req.format} export differs from the in-app model by ${worst.toExponential(2)} (tolerance ${PARITY_TOLERANCE}); nothing was written`,
        { field: 'format' },
      );
    }
    const parity = parityFile(
      { format: req.format, method: source.method, architecture: base.model.config.architecture, baseModel: resolve(source.baseModelPath), virtualTokens: source.method === 'prompt' ? virtualTokens : 0, inputs, maxAbsDiff: worst },
      expected,
      base.model.config.vocabSize,
    );
    await writeJsonAtomic(join(temp, PARITY_FILE), parity);
    await fsyncDir(temp);
    const files = readdirSync(temp).sort();
    swapIntoPlace(temp, outDir);
    return { format: req.format, outDir, files, parity: { maxAbsDiff: worst, inputs, ok: true } };
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  } finally {
    for (const a of attached.reverse()) a.adapter.dispose();
    for (const m of loaded) m.dispose();
  }
}

/** Renames the finished temp folder to outDir, replacing an existing folder only once the new one is complete. */
function swapIntoPlace(temp: string, outDir: string): void {
  if (!existsSync(outDir)) {
    renameSync(temp, outDir);
    return;
  }
  const old = join(dirname(outDir), `.${basename(outDir)}.old-${process.pid}-${randomBytes(3).toString('hex')}`);
  renameSync(outDir, old);
  try {
    renameSync(temp, outDir);
  } catch (err) {
    renameSync(old, outDir);
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
}
