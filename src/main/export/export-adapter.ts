// exportAdapter: adapter (or finished run) → PEFT, merged or PT+ folder, checked by reloading what was written
// into our engine and comparing logits with the in-app model (max |Δ| ≤ 1e-4). Everything is written into a
// hidden temp folder beside outDir and renamed into place only after the check passes, so a failed export
// leaves nothing behind and an existing folder is never half-overwritten. outDir is compared by real path
// with the data folder, served roots and every model/dataset the registry points to (protected-paths.ts);
// `force` replaces only an empty folder or an earlier export (its marker file, export-marker.ts), deleting
// only the files that export wrote.
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import { ensureFolder } from '../platform/ensure-folder';
import { fromSystemError } from '../platform/system-errors';
import type { LoadedModel } from '../engine/io/load-model';
import type { MethodExports, MethodName } from '../engine/methods/method';
import { getMethod, virtualTokensOf } from '../engine/methods/registry';
import { writeSafetensors, type F32Tensor } from '../engine/io/safetensors';
import { fsyncDir, writeJsonAtomic } from '../platform/atomic-write';
import { attachWithState, loadBaseModel, logitsOf, type AttachedAdapter } from './engine-session';
import { writeMergedFolder } from './merged-format';
import { PARITY_FILE, PARITY_TOLERANCE, maxAbsDiff, parityFile, parityInputs } from './parity';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftExportFiles, readPeftFolder, type ExportFiles, type ReadBack } from './peft-format';
import { ptplusExportFiles, readPtplusFolder } from './ptplus-format';
import { copyPtplusLoader } from './ptplus-loader';
import { EXPORT_MARKER_FILE, removeExportFiles, replaceableExport, writeExportMarker, type ExportMarker } from './export-marker';
import { checkClear, guardedPaths, isInside, realPathOf } from './protected-paths';
import { resolveExportSource } from './source';
import { detectFormat } from '../engine/io/load-model';
import { writeGgufLoraExport, type LlamaCppParity } from './gguf/gguf-lora-export';
import { writeMergedGgufExport } from './gguf/merged-gguf';
import { QUANT_TYPES } from './gguf/quantize';

export type ExportFormat = keyof MethodExports;
export const EXPORT_FORMATS: readonly ExportFormat[] = ['peft', 'merged', 'ptplus', 'gguf-lora', 'gguf'];

/** Formats `method` can be exported to: those its definition writes (exports), in EXPORT_FORMATS order. */
export function exportFormatsOf(method: MethodName): ExportFormat[] {
  const exports = getMethod(method).exports;
  return EXPORT_FORMATS.filter((format) => exports[format] !== undefined);
}

export interface ExportRequest {
  home: string;
  /** Adapter id, or the id of a finished run (its last checkpoint). */
  id: string;
  format: ExportFormat;
  /**
   * Folder to create; must not exist unless `force`, which replaces only an empty folder or an earlier
   * export (after the new one passed its check).
   */
  outDir: string;
  force?: boolean;
  /** Folders outDir must not be or contain (`prefixlab serve --root`, the app's picked folders). */
  roots?: readonly string[];
  /** gguf-lora: the adapter tensors' type (default f32); gguf: the merged model's weights (f16 default, or q8_0). */
  quant?: 'f32' | 'f16' | 'q8_0';
}

export { EXPORT_MARKER_FILE };

export interface ExportResult {
  format: ExportFormat;
  /** The real path of the folder written. */
  outDir: string;
  /** File and folder names in outDir (the marker file included). */
  files: string[];
  parity: { maxAbsDiff: number; inputs: number[][]; ok: boolean; llamaCpp?: LlamaCppParity };
  /** GGUF exports: the command that registers the export with Ollama (its Modelfile is in outDir). */
  ollamaCommand?: string;
}

// ---- checks before any work ----

/**
 * Refuses an outDir that overlaps the data folder, a served root or a model/dataset the registry points to
 * (real paths), then whatever existingToReplace refuses. Returns what force would replace.
 */
async function checkOutDir(outDir: string, req: ExportRequest, baseModelPath: string): Promise<ExportMarker | null | undefined> {
  const base = baseModelPath ? [{ path: baseModelPath, what: 'the base model' }] : [];
  checkClear(outDir, await guardedPaths(req.home, req.roots ?? [], base));
  return existingToReplace(outDir, req.force === true);
}

/**
 * undefined when outDir does not exist; else refuses a file, an existing folder without force, and with force
 * a folder that is neither empty nor an earlier export. Returns the earlier export's marker (null: empty).
 */
function existingToReplace(outDir: string, force: boolean): ExportMarker | null | undefined {
  let isFolder: boolean;
  try {
    isFolder = lstatSync(outDir).isDirectory();
  } catch (err) {
    // ENOTDIR: a file further up; creating the parents names it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fromSystemError(err, outDir);
  }
  if (!isFolder) throw new ApiError('already_exists', `${outDir} exists and is not a folder`, { field: 'outDir' });
  if (!force)
    throw new ApiError(
      'already_exists',
      `output folder ${outDir} already exists; choose another folder, or replace it (--force on the command line, "replace the folder if it exists" in the app)`,
      { field: 'outDir' },
    );
  return replaceableExport(outDir);
}

/** Creates the hidden temp folder beside outDir (and outDir's parents); a one-line error when that is impossible. */
function makeTempDir(outDir: string): string {
  const parent = dirname(outDir);
  const temp = join(parent, `.${basename(outDir)}.export-${process.pid}-${randomBytes(3).toString('hex')}.tmp`);
  ensureFolder(parent);
  try {
    mkdirSync(temp);
  } catch (err) {
    throw fromSystemError(err, temp);
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
  const allowed = exportFormatsOf(source.method);
  if (!allowed.includes(req.format)) {
    const has = allowed.length > 0 ? `export as ${listOr(allowed)}` : 'have no export format';
    // llama.cpp's (and so Ollama's and LM Studio's) adapters are LoRA only: say why a GGUF adapter is impossible.
    const why = req.format === 'gguf-lora' ? ` (llama.cpp's GGUF adapters are LoRA only: a ${source.method} adapter has no GGUF equivalent)` : '';
    throw new ApiError('unsupported', `${source.method} adapters ${has}, not ${req.format}${why}`, { field: 'format' });
  }
  // A Hugging Face folder base is written as GGUF too (hf-base-gguf.ts); a llama2.c checkpoint has no GGUF writer.
  if ((req.format === 'gguf-lora' || req.format === 'gguf') && detectFormat(source.baseModelPath) === 'llama2c') {
    throw new ApiError(
      'unsupported',
      `--format ${req.format} needs a GGUF or Hugging Face folder base model, and ${source.baseModelPath} is a llama2.c checkpoint: export this adapter with --format peft or merged`,
      { field: 'format', file: source.baseModelPath },
    );
  }
  const quants: Partial<Record<ExportFormat, readonly string[]>> = { 'gguf-lora': ['f32', 'f16'], gguf: QUANT_TYPES };
  if (req.quant !== undefined && !quants[req.format]?.includes(req.quant)) {
    throw new ApiError('invalid_argument', `--quant ${String(req.quant)} does not apply here (gguf-lora takes f32 or f16; gguf takes f16 or q8_0)`, { field: 'quant' });
  }
  // Real paths throughout: a symlinked home or outDir is compared, and replaced, as what it points to.
  const outDir = realPathOf(req.outDir);
  await checkOutDir(outDir, req, source.baseModelPath && resolve(source.baseModelPath));
  const temp = makeTempDir(outDir);
  const loaded: LoadedModel[] = [];
  const attached: AttachedAdapter[] = [];
  try {
    const base = await loadBaseModel(source.baseModelPath);
    loaded.push(base);
    const inApp = attachWithState(base, source.method, source.options, source.readState());
    attached.push(inApp);
    const virtual = virtualTokensOf(source.method, inApp.options);
    const inputs = parityInputs(base.model.config, virtual.count);
    const expected = await logitsOf(base, inputs, inApp.adapter);

    // Write, then read back what was written.
    let actual: Float32Array[];
    /** What the reload is compared with: the in-app logits, or (F16 tensors) the in-app adapter rounded to F16. */
    let reference = expected;
    let llamaCpp: LlamaCppParity | undefined;
    let ollamaCommand: string | undefined;
    if (req.format === 'gguf-lora') {
      const written = await writeGgufLoraExport({ dir: temp, outDir, base, source, inApp, inputs, expected, type: req.quant === 'f16' ? 'F16' : 'F32' });
      attached.push(...written.attached);
      actual = written.actual;
      reference = written.reference ?? expected;
      llamaCpp = written.llamaCpp;
      ollamaCommand = written.ollamaCommand;
    } else if (req.format === 'gguf') {
      const written = await writeMergedGgufExport({ dir: temp, outDir, base, source, inApp, inputs, expected, quant: req.quant === 'q8_0' ? 'q8_0' : 'f16' });
      loaded.push(...written.loaded);
      actual = written.actual;
      reference = written.reference;
      llamaCpp = written.llamaCpp;
      ollamaCommand = written.ollamaCommand;
    } else if (req.format === 'merged') {
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

    const worst = maxAbsDiff(reference, actual);
    if (!(worst <= PARITY_TOLERANCE)) {
      throw new ApiError(
        'parity_failed',
        `export check failed: the reloaded ${req.format} export differs from the in-app model by ${worst.toExponential(2)} (tolerance ${PARITY_TOLERANCE}); nothing was written`,
        { field: 'format' },
      );
    }
    const parity = parityFile(
      {
        format: req.format,
        method: source.method,
        architecture: base.model.config.architecture,
        baseModel: resolve(source.baseModelPath),
        virtualTokens: virtual.placement === 'input' ? virtual.count : 0,
        inputs,
        maxAbsDiff: worst,
      },
      expected,
      base.model.config.vocabSize,
    );
    if (llamaCpp) Object.assign(parity, { llamaCpp });
    await writeJsonAtomic(join(temp, PARITY_FILE), parity);
    if (req.format === 'ptplus') copyPtplusLoader(temp);
    await writeExportMarker(temp, { format: req.format, source: source.id });
    await fsyncDir(temp);
    const files = readdirSync(temp).sort();
    swapIntoPlace(temp, outDir, req.force === true);
    return { format: req.format, outDir, files, parity: { maxAbsDiff: worst, inputs, ok: true, ...(llamaCpp ? { llamaCpp } : {}) }, ...(ollamaCommand ? { ollamaCommand } : {}) };
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    // A write that failed inside the hidden temp folder (a full disk) is reported against outDir.
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.path === 'string' && isInside(e.path, temp)) e.path = join(outDir, relative(temp, e.path));
    throw fromSystemError(err);
  } finally {
    for (const a of attached.reverse()) a.adapter.dispose();
    for (const m of loaded) m.dispose();
  }
}

/**
 * Renames the finished temp folder to outDir. An existing folder is checked again (it may have changed while
 * the export ran), renamed aside, and only after the new folder is in place are the files its marker lists
 * deleted; anything else that appeared meanwhile stays in the renamed-aside folder.
 */
function swapIntoPlace(temp: string, outDir: string, force: boolean): void {
  const marker = existingToReplace(outDir, force);
  try {
    if (marker === undefined) {
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
    removeExportFiles(old, marker);
  } catch (err) {
    throw fromSystemError(err, outDir);
  }
}

/** 'a', 'a or b', 'a, b or c'. */
function listOr(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
