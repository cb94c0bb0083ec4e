// `npm run bench -- generate`: prompt (prefill) and decoding tokens/s with the KV cache, peak tensor memory,
// per model shape and backend, next to PyTorch's `generate` on the same shape where it is available, and, on
// the real GGUF models, next to llama.cpp (llama-cpp-reference.ts) on the same prompt ids and thread count.
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend, probeBackends, type BackendName } from '../src/main/engine/backend';
import { generate } from '../src/main/engine/generate';
import { loadModel, loadTokenizer } from '../src/main/engine/io/load-model';
import { createRandomModel } from '../src/main/engine/models/random-init';
import type { CausalLM } from '../src/main/engine/models/causal-lm';
import type { TextTokenizer } from '../src/main/engine/io/tokenizer';
import { greedyAgreement, llamaCppReference, type LlamaCppResult } from './llama-cpp-reference';
import { SHAPES, type ShapeSpec } from './shapes';
import { torchReference } from './torch-reference';

export interface GenerateRow {
  model: string;
  backend: BackendName;
  promptTokens: number;
  newTokens: number;
  promptTokensPerSecond: number;
  generatedTokensPerSecond: number;
  peakTensorBytes: number;
  peakRssBytes: number;
  /** PyTorch's generate (random-weight shapes), or llama.cpp (`name: 'llama.cpp'`) on the real GGUF models. */
  reference?: { name: string; tokensPerSecond: number } | LlamaCppResult;
  /** Our first greedy ids (up to 16), beside llama.cpp's. */
  ids?: number[];
  /** How many of the first 16 greedy ids agree with llama.cpp's (reported, not asserted: it computes with quantized weights). */
  greedyAgreement?: { compared: number; matching: number; firstMismatch: number | null };
}

/** How many leading greedy ids the rows compare. */
const AGREEMENT_IDS = 16;

async function buildModel(shape: ShapeSpec): Promise<CausalLM> {
  if (shape.path) return (await loadModel(shape.path)).model;
  return createRandomModel(shape.config!, 1);
}

/** English text for the real models' prompt: a greedy continuation of real text tells more than random ids. */
export const PROMPT_TEXT =
  'The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable metal type, ' +
  'oil-based ink and a wooden press adapted from those used to make wine. Within fifty years, presses were running in more ' +
  'than two hundred cities across Europe, and the price of books fell so far that ordinary merchants could own them. ';

/**
 * The prompt ids of a real model: the special ids our tokenizer puts before a text (BOS where the model wants
 * one) and its ids of PROMPT_TEXT, repeated until there are `count`; `textIds` (no special ids) lets llama.cpp's
 * tokenizer be compared.
 */
export function textPrompt(tokenizer: TextTokenizer, count: number): { ids: number[]; textIds: number[] } {
  const textIds = tokenizer.encode(PROMPT_TEXT, { addSpecialTokens: false });
  if (textIds.length === 0) throw new Error('the tokenizer gave no ids for the prompt text');
  const withSpecial = tokenizer.encode(PROMPT_TEXT);
  const start = withSpecial.findIndex((_, i) => textIds.every((id, j) => withSpecial[i + j] === id));
  const ids = withSpecial.slice(0, Math.max(0, start));
  while (ids.length < count) ids.push(...textIds.slice(0, count - ids.length));
  return { ids, textIds };
}

/** Our row's llama.cpp fields: its figures, its first ids, and how many of them agree with ours. */
export function withLlamaCpp(row: GenerateRow, ourIds: number[], ref: LlamaCppResult): GenerateRow {
  return {
    ...row,
    ids: ourIds.slice(0, AGREEMENT_IDS),
    reference: { ...ref, ids: ref.ids.slice(0, AGREEMENT_IDS) },
    greedyAgreement: greedyAgreement(ourIds, ref.ids, AGREEMENT_IDS),
  };
}

function randomIds(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return 3 + (state % (vocab - 3));
  });
}

export async function benchGenerate(opts: {
  backends: BackendName[];
  shapes: string[];
  promptTokens: number;
  newTokens: number;
  reference: boolean;
  threads?: number;
}): Promise<GenerateRow[]> {
  const rows: GenerateRow[] = [];
  const available = new Set((await probeBackends()).filter((b) => b.available).map((b) => b.name));
  const unknown = opts.shapes.filter((name) => !SHAPES.some((s) => s.name === name));
  if (unknown.length) console.error(`  unknown shape(s): ${unknown.join(', ')} (known: ${SHAPES.map((s) => s.name).join(', ')})`);
  for (const shape of SHAPES.filter((s) => (opts.shapes.length === 0 && !s.explicitOnly) || opts.shapes.includes(s.name))) {
    if (shape.path && !existsSync(shape.path)) {
      console.error(`  skipping ${shape.name}: ${shape.path} is not there (fetch it with python3 scripts/models/fetch-models.py, or set PREFIXLAB_MODEL_CACHE)`);
      continue;
    }
    // The real GGUF models: a text prompt in our tokenizer's ids, and llama.cpp on those ids as the reference
    // (run once per model, before our engine loads it, and shown in every backend's row).
    const gguf = shape.path?.endsWith('.gguf') ?? false;
    const header = gguf ? await loadTokenizer(shape.path!) : undefined;
    const text = header?.tokenizer ? textPrompt(header.tokenizer, opts.promptTokens) : undefined;
    let llamaCpp: LlamaCppResult | undefined;
    if (gguf && opts.reference) {
      const ref = llamaCppReference({
        modelPath: shape.path!,
        promptIds: text?.ids ?? randomIds(opts.promptTokens, header!.config.vocabSize, 7),
        newTokens: opts.newTokens,
        threads: opts.threads ?? 1,
        ...(text ? { promptText: PROMPT_TEXT, textIds: text.textIds } : {}),
      });
      if ('error' in ref) console.error(`  ${ref.error}`);
      else llamaCpp = ref;
    }
    for (const backend of opts.backends.filter((b) => available.has(b))) {
      await initBackend(backend);
      const model = await buildModel(shape);
      const prompt = text?.ids ?? randomIds(opts.promptTokens, model.config.vocabSize, 7);
      let peakRss = process.memoryUsage().rss;
      const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
      // RSS is sampled per token only outside the timed runs (reading it costs a system call).
      const run = (newTokens: number, onToken?: () => void) => generate(model, [prompt], { maxNewTokens: newTokens, greedy: true, eosTokenIds: [], onToken });
      await run(2); // warm-up: kernel compilation, first allocations
      const prefill = await run(1);
      const full = await run(opts.newTokens + 1);
      sampleRss();
      const profile = await tf.profile(async () => {
        await run(4, sampleRss);
        sampleRss();
      });
      const decodeMs = Math.max(1e-6, full.elapsedMs - prefill.elapsedMs);
      const row: GenerateRow = {
        model: shape.name,
        backend,
        promptTokens: prompt.length,
        newTokens: opts.newTokens,
        promptTokensPerSecond: (prompt.length / prefill.elapsedMs) * 1000,
        generatedTokensPerSecond: (opts.newTokens / decodeMs) * 1000,
        peakTensorBytes: profile.peakBytes,
        peakRssBytes: peakRss,
      };
      model.dispose();
      if (gguf) {
        if (llamaCpp) Object.assign(row, withLlamaCpp(row, full.ids[0]!, llamaCpp));
      } else if (opts.reference) {
        const ref = torchReference({ task: 'generate', shape, promptTokens: prompt.length, newTokens: opts.newTokens }, opts.threads);
        if (ref) row.reference = { name: ref.name, tokensPerSecond: ref.tokensPerSecond };
      }
      rows.push(row);
      console.error(`  ${shape.name} on ${backend}: ${row.generatedTokensPerSecond.toFixed(1)} generated tokens/s`);
      if (row.greedyAgreement && llamaCpp) {
        const a = row.greedyAgreement;
        console.error(
          `    llama.cpp: ${llamaCpp.promptTokensPerSecond.toFixed(1)} prefill, ${llamaCpp.tokensPerSecond.toFixed(1)} generated tokens/s; ` +
            `first ${a.compared} greedy ids: ${a.matching} agree${a.firstMismatch === null ? '' : ` (first difference at ${a.firstMismatch})`}`,
        );
      }
    }
  }
  return rows;
}
