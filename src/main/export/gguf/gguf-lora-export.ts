// The gguf-lora export's own steps inside exportAdapter (export-adapter.ts), in its hidden temp folder:
// adapter.gguf for the base GGUF file (a Hugging Face folder base is first written as base.gguf beside it,
// hf-base-gguf.ts), read back into our engine (the reload check every export has), an Ollama Modelfile and
// README.txt beside it, and the check by llama.cpp itself (llama-cpp-check.ts). A llama.cpp result beyond the
// thresholds refuses the export, as a failed reload does.
import { join, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import { dequantize } from '../../engine/io/gguf/dequantize';
import { inspectGguf } from '../../engine/io/gguf/gguf-model';
import type { LoadedModel } from '../../engine/io/load-model';
import { getMethod } from '../../engine/methods/registry';
import { writeFileAtomic } from '../../platform/atomic-write';
import { attachWithState, logitsOf, type AttachedAdapter } from '../engine-session';
import { llamaCppCheck, LlamaCppUnavailable, thresholdsFor, type LlamaCppCheck } from '../llama-cpp-check';
import type { ExportSource } from '../source';
import { HF_BASE_GGUF_FILE, writeHfGguf } from './hf-base-gguf';
import { GGUF_LORA_FILE, readGgufLora, writeGgufLora, type GgufLoraType, type LoraPairs } from './gguf-lora-format';
import { checkPrecisionType } from './check-precision';
import { quantizeF16 } from './quantize';
import { EXPORT_README, MODELFILE, modelfileChat, modelfileText, ollamaCommand } from './ollama-modelfile';

/**
 * base.gguf for a Hugging Face folder base: F32 for an F32 folder, so llama.cpp runs exactly the weights the
 * adapter was trained on and the check measures the adapter alone (thresholds for F32); F16 for an F16/BF16
 * folder (the converter's default --outtype; BF16 → F16 refuses a value beyond F16's range, naming it).
 */
async function writeHfBase(dir: string, base: LoadedModel, source: ExportSource): Promise<string> {
  const path = join(dir, HF_BASE_GGUF_FILE);
  await writeHfGguf({
    path,
    folder: base.path,
    config: base.model.config,
    weight: (name) => base.model.weights.get(name)?.dataSync() as Float32Array | undefined,
    type: base.model.config.sourceDtype === 'F32' ? 'f32' : 'f16',
    // Not the folder's name: llama.cpp gives a model whose general.name contains "phi3" Phi-3's own special tokens.
    name: `PrefixLab base of ${source.method} ${source.id}`,
  });
  return path;
}

/** The llama.cpp check as stored in parity.json and the export result; `skipped` when its runtime cannot load here. */
export type LlamaCppParity = LlamaCppCheck | { ok: true; skipped: string };

export interface GgufLoraExportResult {
  /** Logits of the adapter read back from adapter.gguf into our engine. */
  actual: Float32Array[];
  /** For F16 tensors: the in-app adapter's logits with its tensors rounded to F16 (what the reload must equal). */
  reference?: Float32Array[];
  attached: AttachedAdapter[];
  llamaCpp: LlamaCppParity;
  ollamaCommand: string;
}

function roundedToF16(lora: LoraPairs): Map<string, { a: Float32Array; b: Float32Array }> {
  const round = (x: Float32Array): Float32Array => dequantize('F16', quantizeF16(x), x.length, { tensor: 'lora', file: 'memory' });
  return new Map(lora.pairs.map((p) => [p.module, { a: round(p.a), b: round(p.b) }]));
}

export async function writeGgufLoraExport(opts: {
  /** The export's temp folder (renamed to outDir when every check passed). */
  dir: string;
  outDir: string;
  base: LoadedModel;
  source: ExportSource;
  inApp: AttachedAdapter;
  inputs: number[][];
  /** The in-app model's logits on `inputs`. */
  expected: Float32Array[];
  type: GgufLoraType;
}): Promise<GgufLoraExportResult> {
  const { dir, base, source, inApp, inputs, expected, type } = opts;
  const def = getMethod(source.method).exports['gguf-lora'];
  if (!def) throw new ApiError('unsupported', `${source.method} adapters cannot be written as GGUF adapters`, { field: 'format' });
  // A Hugging Face folder base: written as base.gguf beside the adapter (the Modelfile's FROM, llama.cpp's base).
  const hfBase = base.format === 'hf' ? await writeHfBase(dir, base, source) : null;
  const basePath = hfBase ?? resolve(source.baseModelPath);
  const info = await inspectGguf(basePath);
  const lora = def.loraPairs(inApp.adapter);
  const adapterPath = join(dir, GGUF_LORA_FILE);
  await writeGgufLora(adapterPath, info, lora, { type, name: `PrefixLab ${source.method} ${source.id}` });

  // Reload check: the tensors read back (rows put back in HF order) give the in-app logits.
  const attached: AttachedAdapter[] = [];
  const back = await readGgufLora(
    adapterPath,
    info,
    lora.pairs.map((p) => p.module),
  );
  if (Math.abs(back.alpha / lora.rank - lora.scale) > 1e-6 * lora.scale) {
    throw new ApiError('parity_failed', `export check failed: adapter.lora.alpha ${back.alpha} / rank ${lora.rank} is not the adapter's scale ${lora.scale}; nothing was written`);
  }
  const reloaded = attachWithState(base, source.method, source.options, def.stateFromPairs(back.pairs, inApp.adapter));
  attached.push(reloaded);
  const actual = await logitsOf(base, inputs, reloaded.adapter);
  let reference: Float32Array[] | undefined;
  if (type === 'F16') {
    const rounded = attachWithState(base, source.method, source.options, def.stateFromPairs(roundedToF16(lora), inApp.adapter));
    attached.push(rounded);
    reference = await logitsOf(base, inputs, rounded.adapter);
  }

  // Ollama: the base by its absolute path (or base.gguf beside it), the adapter beside the Modelfile.
  const chat = modelfileChat(info.file);
  const modelfile = modelfileText({
    comment: `PrefixLab export of ${source.method} ${source.id} (llama.cpp LoRA adapter on ${hfBase ? `${HF_BASE_GGUF_FILE}, written from ${resolve(source.baseModelPath)}` : basePath})`,
    from: hfBase ? `./${HF_BASE_GGUF_FILE}` : basePath,
    adapter: `./${GGUF_LORA_FILE}`,
    ...chat,
  });
  await writeFileAtomic(join(dir, MODELFILE), modelfile);
  const command = ollamaCommand(`prefixlab-${source.id}`, join(opts.outDir, MODELFILE));
  const readme = [
    `${GGUF_LORA_FILE}: a llama.cpp LoRA adapter (GGUF, ${type} tensors) for ${hfBase ? HF_BASE_GGUF_FILE : basePath}`,
    `(the ${source.method} ${source.kind} ${source.id}, exported by PrefixLab; checked by llama.cpp itself, see parity.json).`,
    ...(hfBase ? [`${HF_BASE_GGUF_FILE}: the base model ${resolve(source.baseModelPath)} (a Hugging Face folder) as GGUF (${info.mainType} weights).`] : []),
    '',
    `llama.cpp:  llama-cli -m ${hfBase ? HF_BASE_GGUF_FILE : 'BASE.gguf'} --lora adapter.gguf`,
    `Ollama:     ${command}`,
    hfBase ? '            (the Modelfile names base.gguf beside it)' : `            (the Modelfile names the base by its absolute path; edit FROM if it moves)`,
    'LM Studio and other llama.cpp front ends: load the base model and add adapter.gguf as its LoRA.',
    '',
  ].join('\n');
  await writeFileAtomic(join(dir, EXPORT_README), readme);

  // llama.cpp itself: base + adapter.gguf against the in-app model.
  let llamaCpp: LlamaCppParity;
  try {
    llamaCpp = await llamaCppCheck({
      model: basePath,
      adapter: adapterPath,
      inputs,
      ourLogits: expected,
      vocabSize: base.model.config.vocabSize,
      thresholds: thresholdsFor(checkPrecisionType(info.file)),
    });
  } catch (err) {
    if (!(err instanceof LlamaCppUnavailable)) {
      throw new ApiError(
        'parity_failed',
        `export check failed: llama.cpp could not load the base with the exported adapter: ${String((err as Error).message ?? err).split('\n')[0]}; nothing was written`,
        {
          field: 'format',
        },
      );
    }
    llamaCpp = { ok: true, skipped: err.message };
  }
  if (!llamaCpp.ok) {
    const c = llamaCpp as LlamaCppCheck;
    const t = c.thresholds;
    throw new ApiError(
      'parity_failed',
      `export check failed: llama.cpp with the exported adapter agrees with the in-app model on the top token at ${(100 * c.top1Agreement).toFixed(0)}% of ${c.positions} positions (at least ${100 * t.minTop1Agreement}% needed) with max |Δ log p| ${c.maxAbsLogProbDiff.toFixed(3)} (at most ${t.maxAbsLogProbDiff} for a ${checkPrecisionType(info.file)} base); nothing was written`,
      { field: 'format' },
    );
  }
  return { actual, reference, attached, llamaCpp, ollamaCommand: command };
}
