// llama.cpp's LoRA adapter file (adapter.gguf), laid out as its convert_lora_to_gguf.py writes it:
// general.type = adapter, adapter.type = lora, adapter.lora.alpha, general.architecture of the base, and per
// adapted base tensor T (llama.cpp's name, e.g. blk.0.attn_q.weight) the pair T.lora_a (GGUF shape [in, r]:
// torch [r, in]) and T.lora_b ([r, out]: torch [out, r]). llama.cpp computes W x + (alpha / r)·B·A·x with r from
// lora_a, so alpha is written as scale·r (rsLoRA's α/√r included). Where the converter reordered the base
// weight's rows (llama's Q/K permutation, GPT-NeoX's fused QKV), lora_b's rows get the same order; fused
// tensors (phi3 attn_qkv, ffn_up) take the LoRA on the fused module as it is.
import { ApiError } from '@shared/errors';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { toGgufRowOrder, toHfLayout, type GgufWeightSource } from '../../engine/io/gguf/gguf-layout';
import type { GgufModelInfo } from '../../engine/io/gguf/gguf-model';
import { GgufTensorReader } from '../../engine/io/gguf/read-tensor';
import type { GgufLoraExport } from '../../engine/methods/method';
import { f32Bytes, writeGguf, type GgufMetadataEntry, type GgufWriteTensor } from './gguf-writer';
import { quantizeF16 } from './quantize';

export const GGUF_LORA_FILE = 'adapter.gguf';

export type LoraPairs = ReturnType<GgufLoraExport['loraPairs']>;
export type GgufLoraType = 'F32' | 'F16';

/** Where each pair goes in the base file: its tensor, and how its rows are ordered there. */
function placements(base: GgufModelInfo, lora: LoraPairs): { tensor: string; pair: LoraPairs['pairs'][number]; source: GgufWeightSource }[] {
  return lora.pairs.map((pair) => {
    const source = base.sources.get(`${pair.module}.weight`);
    if (!source) {
      throw new ApiError('unsupported', `the base GGUF file has no tensor for ${pair.module}.weight, so its LoRA cannot be written as a GGUF adapter`, {
        file: base.file.path,
        field: pair.module,
      });
    }
    return { tensor: source.tensor, pair, source };
  });
}

/** Writes the adapter for `base` (the GGUF file the LoRA was trained on) to `path`, atomically. */
export async function writeGgufLora(path: string, base: GgufModelInfo, lora: LoraPairs, opts: { type?: GgufLoraType; name?: string } = {}): Promise<void> {
  const type = opts.type ?? 'F32';
  const arch = base.file.metadata['general.architecture'] as string;
  const metadata: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: arch },
    { key: 'general.type', type: 'string', value: 'adapter' },
    ...(opts.name ? [{ key: 'general.name', type: 'string' as const, value: opts.name }] : []),
    { key: 'adapter.type', type: 'string', value: 'lora' },
    { key: 'adapter.lora.alpha', type: 'f32', value: lora.scale * lora.rank },
  ];
  const encode = (values: Float32Array): Uint8Array => (type === 'F16' ? quantizeF16(values) : f32Bytes(values));
  const tensors: GgufWriteTensor[] = [];
  for (const { tensor, pair, source } of placements(base, lora)) {
    const { rank } = lora;
    if (pair.a.length !== rank * pair.inDim || pair.b.length !== pair.outDim * rank) {
      throw new ApiError('internal', `LoRA pair for ${pair.module} does not have shapes [${rank}, ${pair.inDim}] and [${pair.outDim}, ${rank}]`);
    }
    const baseTensor = base.file.tensors.find((t) => t.name === tensor)!;
    // llama.cpp checks model ne0 == lora_a ne0 and model ne1 == lora_b ne1.
    if (baseTensor.shape[0] !== pair.inDim || baseTensor.shape[1] !== pair.outDim) {
      throw new ApiError(
        'conflict',
        `the base tensor ${tensor} has shape [${baseTensor.shape.join(', ')}], not [${pair.inDim}, ${pair.outDim}] as the adapter's ${pair.module}: is this the model it was trained on?`,
        {
          file: base.file.path,
          field: tensor,
        },
      );
    }
    tensors.push({ name: `${tensor}.lora_a`, type, shape: [pair.inDim, rank], data: () => encode(pair.a) });
    tensors.push({ name: `${tensor}.lora_b`, type, shape: [rank, pair.outDim], data: () => encode(toGgufRowOrder(source, pair.b, rank)) });
  }
  await writeGguf(path, { metadata, tensors });
}

/**
 * Reads an adapter written by writeGgufLora back into HF layout (rows un-permuted), for the export's own
 * reload check: the tensors must equal what was written, up to F16 rounding.
 */
export async function readGgufLora(
  path: string,
  base: GgufModelInfo,
  modules: readonly string[],
): Promise<{ alpha: number; pairs: Map<string, { a: Float32Array; b: Float32Array }> }> {
  const file = await readGgufFile(path);
  const field = (key: string): unknown => file.metadata[key];
  if (field('general.type') !== 'adapter' || field('adapter.type') !== 'lora') throw new ApiError('bad_file', 'not a LoRA adapter (general.type, adapter.type)', { file: path });
  if (field('general.architecture') !== base.file.metadata['general.architecture']) {
    throw new ApiError('bad_file', `adapter architecture ${String(field('general.architecture'))} is not the base's`, { file: path, field: 'general.architecture' });
  }
  const reader = GgufTensorReader.open(file);
  try {
    const pairs = new Map<string, { a: Float32Array; b: Float32Array }>();
    for (const module of modules) {
      const source = base.sources.get(`${module}.weight`)!;
      const a = reader.read(`${source.tensor}.lora_a`);
      const b = reader.read(`${source.tensor}.lora_b`);
      // lora_b is [rank, out] in GGUF order: its rows (out) were reordered like the base weight's.
      pairs.set(module, { a: a.data, b: toHfLayout({ ...source, transpose: false }, b.data, b.info.shape) });
    }
    return { alpha: Number(field('adapter.lora.alpha')), pairs };
  } finally {
    reader.close();
  }
}
