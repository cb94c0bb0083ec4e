// A Hugging Face folder's GGUF metadata, as llama.cpp's convert_hf_to_gguf.py writes it, for the base GGUF an
// HF-folder export writes (base.gguf beside a gguf-lora adapter; the merged model.gguf): general.*, the
// architecture's hyper-parameters (each model class's set_gguf_parameters), and the tokenizer with its special
// ids, add_bos/add_eos and chat template (gguf-py's SpecialVocab). tests/fixtures/gguf/make_tiny_ggufs.py is the
// Python port this follows key for key (hf-base-gguf.test.ts compares with its files); where it, and so this,
// deviates from the converter, its docstring says why. Two choices of the converter's are not copied:
// - tokenizer.ggml.pre comes in the converter from a hash of known tokenizers; here from the split rule of
//   tokenizer.json's pre_tokenizer (Qwen2's regex → "qwen2", byte-level GPT-2 → "gpt-2"); others are refused.
// - A SentencePiece-like BPE in tokenizer.json (byte fallback, no tokenizer.model: llama, mistral, phi3 and
//   stories260K) is written as `llama` like the converter's _set_vocab_llama_hf, but with scores that make
//   llama.cpp's SentencePiece merge order the BPE merge order: -rank of the merge that makes the token (the
//   other normal tokens rank below every merge, byte and control tokens 0). The converter's LlamaHfVocab writes -1000 for every token, and with equal scores llama.cpp merges
//   leftmost-first, which tokenizes differently from the HF tokenizer.
// - gemma3: the converter reads tokenizer.model when there is one; from tokenizer.json alone it is the `llama`
//   vocabulary above, with add_space_prefix what tokenizer.json's normalizer does. The layer pattern is written
//   (attention.sliding_window_pattern) when it is not llama.cpp's default 5 sliding + 1 global.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_CAPS, readBoundedText } from '../../engine/io/bounded-read';
import { ApiError } from '@shared/errors';
import { readJson } from '../../engine/io/hf-folder';
import type { GgufMetadataEntry } from './gguf-writer';

/** gguf-py constants.py TokenType. */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** llama.cpp's LlamaFileType for general.file_type. */
export const LLAMA_FILE_TYPE = { F32: 0, F16: 1, Q8_0: 7 } as const;

/** GGML_QUANT_VERSION. */
const QUANTIZATION_VERSION = 2;

/** The fixed Qwen2 pre-tokenizer regex (llama.cpp's "qwen2" pre-tokenizer). */
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

type Json = Record<string, unknown>;

export interface HfGgufDescription {
  /** general.architecture (llama.cpp's name). */
  architecture: string;
  metadata: GgufMetadataEntry[];
  /** Tensors that are no weight of the model (Phi-3's longrope factors), F32. */
  extraTensors: { name: string; values: Float32Array }[];
}

/** HF model_type → llama.cpp architecture (the converter's model class for it). */
const ARCH_OF: Record<string, string> = {
  llama: 'llama',
  mistral: 'llama',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  phi3: 'phi3',
  gpt2: 'gpt2',
  gpt_neox: 'gptneox',
  gemma3_text: 'gemma3',
};

class Params {
  readonly entries: GgufMetadataEntry[] = [];
  constructor(
    readonly arch: string,
    readonly hp: Json,
    readonly file: string,
  ) {}
  get(key: string): unknown {
    return this.hp[key];
  }
  num(key: string): number {
    const v = this.hp[key];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ApiError('bad_file', `config.json has no number ${key}, which the GGUF export needs`, { file: this.file, field: key });
    return v;
  }
  u32(key: string, value: number): void {
    this.entries.push({ key: `${this.arch}.${key}`, type: 'u32', value });
  }
  f32(key: string, value: number): void {
    this.entries.push({ key: `${this.arch}.${key}`, type: 'f32', value });
  }
}

/** TextModel.set_gguf_parameters, the keys the configs we load carry (Qwen2Model, Qwen3Model, LlamaModel's base). */
function textModelParams(p: Params): void {
  p.u32('block_count', p.num('num_hidden_layers'));
  p.u32('context_length', p.num('max_position_embeddings'));
  p.u32('embedding_length', p.num('hidden_size'));
  p.u32('feed_forward_length', p.num('intermediate_size'));
  p.u32('attention.head_count', p.num('num_attention_heads'));
  if (p.get('num_key_value_heads') !== undefined && p.get('num_key_value_heads') !== null) p.u32('attention.head_count_kv', p.num('num_key_value_heads'));
  if (p.get('rope_theta') !== undefined && p.get('rope_theta') !== null) p.f32('rope.freq_base', p.num('rope_theta'));
  p.f32('attention.layer_norm_rms_epsilon', p.num('rms_norm_eps'));
  if (p.get('head_dim') !== undefined && p.get('head_dim') !== null) {
    p.u32('attention.key_length', p.num('head_dim'));
    p.u32('attention.value_length', p.num('head_dim'));
  }
}

/** LlamaModel.set_gguf_parameters: TextModel's, vocab_size and rope.dimension_count (rope scaling is refused by our loader). */
function llamaParams(p: Params): void {
  textModelParams(p);
  p.u32('vocab_size', p.num('vocab_size'));
  const headDim = p.get('head_dim') ?? p.num('hidden_size') / p.num('num_attention_heads');
  p.u32('rope.dimension_count', Number(headDim));
}

function gpt2Params(p: Params): void {
  p.u32('block_count', p.num('n_layer'));
  p.u32('context_length', p.get('n_ctx') !== undefined ? p.num('n_ctx') : p.num('n_positions'));
  p.u32('embedding_length', p.num('n_embd'));
  p.u32('feed_forward_length', typeof p.get('n_inner') === 'number' ? p.num('n_inner') : 4 * p.num('n_embd'));
  p.u32('attention.head_count', p.num('n_head'));
  p.f32('attention.layer_norm_epsilon', p.num('layer_norm_epsilon'));
}

function gptNeoxParams(p: Params): void {
  p.u32('context_length', p.num('max_position_embeddings'));
  p.u32('embedding_length', p.num('hidden_size'));
  p.u32('block_count', p.num('num_hidden_layers'));
  p.u32('feed_forward_length', p.num('intermediate_size'));
  p.u32('rope.dimension_count', Math.trunc(p.num('rotary_pct') * Math.trunc(p.num('hidden_size') / p.num('num_attention_heads'))));
  p.u32('attention.head_count', p.num('num_attention_heads'));
  p.entries.push({ key: 'gptneox.use_parallel_residual', type: 'bool', value: p.get('use_parallel_residual') !== false });
  p.f32('attention.layer_norm_epsilon', p.num('layer_norm_eps'));
}

function phi3Rope(p: Params): { orig: number; long?: number[]; short?: number[]; kind: string } {
  const rope = (p.get('rope_scaling') ?? {}) as Json;
  const orig = Number(rope.original_max_position_embeddings ?? p.get('original_max_position_embeddings') ?? p.num('max_position_embeddings'));
  return { orig, long: rope.long_factor as number[] | undefined, short: rope.short_factor as number[] | undefined, kind: String(rope.rope_type ?? rope.type ?? '').toLowerCase() };
}

function phi3Params(p: Params): void {
  const nEmbd = p.num('hidden_size');
  const nHead = p.num('num_attention_heads');
  const partial = typeof p.get('partial_rotary_factor') === 'number' ? p.num('partial_rotary_factor') : 1;
  p.u32('context_length', p.num('max_position_embeddings'));
  p.u32('rope.scaling.original_context_length', phi3Rope(p).orig);
  p.u32('embedding_length', nEmbd);
  p.u32('feed_forward_length', p.num('intermediate_size'));
  p.u32('block_count', p.num('num_hidden_layers'));
  p.u32('attention.head_count', nHead);
  p.u32('attention.head_count_kv', p.num('num_key_value_heads'));
  p.f32('attention.layer_norm_rms_epsilon', p.num('rms_norm_eps'));
  p.u32('rope.dimension_count', Math.trunc(Math.trunc(partial * nEmbd) / nHead));
  p.f32('rope.freq_base', typeof p.get('rope_theta') === 'number' ? p.num('rope_theta') : 10000);
  p.u32('attention.sliding_window', typeof p.get('sliding_window') === 'number' ? p.num('sliding_window') : 0);
}

/** Phi3MiniModel.generate_extra_tensors: longrope factors as tensors, the attention factor as metadata. */
function phi3Extra(p: Params): HfGgufDescription['extraTensors'] {
  const rope = phi3Rope(p);
  if (!rope.long || rope.long.length === 0) return [];
  if (rope.kind !== 'su' && rope.kind !== 'longrope')
    throw new ApiError('unsupported', `config.json rope_scaling type ${rope.kind} is not longrope`, { file: p.file, field: 'rope_scaling' });
  const scale = p.num('max_position_embeddings') / rope.orig;
  p.f32('rope.scaling.attn_factor', scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(rope.orig)) : 1);
  return [
    { name: 'rope_factors_long.weight', values: Float32Array.from(rope.long) },
    { name: 'rope_factors_short.weight', values: Float32Array.from(rope.short ?? []) },
  ];
}

/** llama.cpp's gemma3 layer pattern when the file names none (llama_model_gemma3::load_arch_hparams). */
const GEMMA3_SWA_PERIOD = 6;
const GEMMA3_27B_LAYERS = 62;

/**
 * The period p of the config's layers (every p-th global, the others sliding), the form llama.cpp reads it in;
 * 6 whenever that fits (llama.cpp's default: nothing to write), 1 when every layer is global.
 */
function gemma3SwaPeriod(p: Params, layers: number): number {
  const types = p.get('layer_types');
  if (!Array.isArray(types) || types.length === 0) return typeof p.get('sliding_window_pattern') === 'number' ? p.num('sliding_window_pattern') : GEMMA3_SWA_PERIOD;
  const fits = (period: number) => types.length === layers && types.every((t, i) => (t === 'full_attention') === ((i + 1) % period === 0));
  for (const period of [GEMMA3_SWA_PERIOD, ...Array.from({ length: layers + 1 }, (_, i) => i + 1)]) if (fits(period)) return period;
  throw new ApiError('unsupported', `config.json's layer_types are not every n-th layer global, the only layer pattern llama.cpp's gemma3 reads`, {
    file: p.file,
    field: 'layer_types',
  });
}

/** TextModel.set_gguf_parameters then Gemma3Model's (conversion/gemma.py), with the converter's defaults. */
function gemma3Params(p: Params): void {
  const or = (key: string, fallback: number) => (typeof p.get(key) === 'number' ? p.num(key) : fallback);
  const layers = p.num('num_hidden_layers');
  const hidden = p.num('hidden_size');
  const heads = or('num_attention_heads', 8);
  const headDim = or('head_dim', 256);
  // llama.cpp scales queries by 1/√head_dim (the 27B: 1/√(width / heads)) whatever the file says: a model with
  // another query_pre_attn_scalar would run as a different model there.
  const scalar = or('query_pre_attn_scalar', 256);
  const llamaCppScalar = layers === GEMMA3_27B_LAYERS ? hidden / heads : headDim;
  if (scalar !== llamaCppScalar) {
    throw new ApiError(
      'unsupported',
      `config.json's query_pre_attn_scalar ${scalar} is not ${llamaCppScalar}, the query scale llama.cpp's gemma3 always uses (${layers === GEMMA3_27B_LAYERS ? 'width / heads' : 'head_dim'}), so llama.cpp would run a different model; export with --format merged / peft`,
      { file: p.file, field: 'query_pre_attn_scalar' },
    );
  }
  if (p.get('attn_logit_softcapping') !== undefined && p.get('attn_logit_softcapping') !== null)
    throw new ApiError('unsupported', 'config.json has attn_logit_softcapping, which Gemma 3 (and its GGUF) does not have', { file: p.file, field: 'attn_logit_softcapping' });
  p.u32('block_count', layers);
  p.u32('context_length', or('max_position_embeddings', 131_072));
  p.u32('embedding_length', hidden);
  p.u32('feed_forward_length', p.num('intermediate_size'));
  p.u32('attention.head_count', heads);
  p.u32('attention.head_count_kv', or('num_key_value_heads', 4));
  const rope = (p.get('rope_scaling') ?? {}) as Json;
  const kind = rope.rope_type ?? rope.type;
  if (kind !== undefined && kind !== null) {
    // Gemma 3 (4B and larger) scales its global layers' RoPE linearly; llama.cpp does the same from these keys.
    if (kind !== 'linear' || typeof rope.factor !== 'number')
      throw new ApiError('unsupported', `config.json rope_scaling ${JSON.stringify(kind)} is not linear, the only one the gemma3 GGUF export writes`, {
        file: p.file,
        field: 'rope_scaling',
      });
    p.entries.push({ key: 'gemma3.rope.scaling.type', type: 'string', value: 'linear' });
    p.f32('rope.scaling.factor', rope.factor);
  }
  p.f32('rope.freq_base', or('rope_theta', 1_000_000));
  if (typeof p.get('rope_local_base_freq') === 'number') p.f32('rope.freq_base_swa', p.num('rope_local_base_freq'));
  p.f32('attention.layer_norm_rms_epsilon', or('rms_norm_eps', 1e-6));
  p.u32('attention.key_length', headDim);
  p.u32('attention.value_length', headDim);
  if (typeof p.get('final_logit_softcapping') === 'number' && p.num('final_logit_softcapping') !== 0) p.f32('final_logit_softcapping', p.num('final_logit_softcapping'));
  const period = gemma3SwaPeriod(p, layers);
  if (period !== 1) {
    p.u32('attention.sliding_window', p.num('sliding_window'));
    // Not written by the converter; llama.cpp reads it, and without it runs other layers as sliding ones.
    if (period !== GEMMA3_SWA_PERIOD) p.u32('attention.sliding_window_pattern', period);
  }
}

const PARAMS: Record<string, (p: Params) => void> = {
  llama: llamaParams,
  qwen2: textModelParams,
  qwen3: textModelParams,
  phi3: phi3Params,
  gpt2: gpt2Params,
  gptneox: gptNeoxParams,
  gemma3: gemma3Params,
};
/** GPTNeoXModel.set_gguf_parameters does not add general.file_type. */
const WRITES_FILE_TYPE = new Set(['llama', 'qwen2', 'qwen3', 'gpt2', 'phi3', 'gemma3']);

// --- tokenizer ----------------------------------------------------------------------------------------------------

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

function looksSpecial(token: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(token) || (token.startsWith('<|') && token.endsWith('|>'));
}

/** `gpt2` (byte-level BPE) or `llama` (SentencePiece-like BPE with byte fallback), with tokenizer.ggml.pre. */
function vocabKind(tokenizer: Json, file: string): { model: 'gpt2' | 'llama'; pre: string } {
  const model = (tokenizer.model ?? {}) as Json;
  if (model.type !== 'BPE')
    throw new ApiError('unsupported', `tokenizer.json model type ${String(model.type)} cannot be written as a GGUF tokenizer (BPE only)`, { file, field: 'model.type' });
  if (model.byte_fallback === true) return { model: 'llama', pre: 'default' };
  const pre = tokenizer.pre_tokenizer as Json | null | undefined;
  const parts = (pre?.type === 'Sequence' ? (pre.pretokenizers as Json[]) : pre ? [pre] : []) ?? [];
  const split = parts.find((x) => x.type === 'Split');
  const regex = split ? ((split.pattern as Json | undefined)?.Regex as string | undefined) : undefined;
  if (regex === QWEN2_REGEX && parts.some((x) => x.type === 'ByteLevel' && x.use_regex === false)) return { model: 'gpt2', pre: 'qwen2' };
  if (parts.length === 1 && parts[0].type === 'ByteLevel' && parts[0].use_regex !== false) return { model: 'gpt2', pre: 'gpt-2' };
  throw new ApiError(
    'unsupported',
    `tokenizer.json's pre_tokenizer is not one the GGUF export can name for llama.cpp (Qwen2's regex or byte-level GPT-2); convert this folder with llama.cpp's convert_hf_to_gguf.py`,
    { file, field: 'pre_tokenizer' },
  );
}

/** Merges as gguf-py writes them: "a b", a space inside a part written as U+0120+… (chr(ord(' ') + 256)). */
function mergesOf(tokenizer: Json, file: string): string[] {
  const merges = ((tokenizer.model ?? {}) as Json).merges;
  if (!Array.isArray(merges) || merges.length === 0) return [];
  if (typeof merges[0] === 'string') return merges as string[];
  if (Array.isArray(merges[0]) && merges[0].length === 2) {
    return (merges as string[][]).map((pair) => pair.map((part) => part.replace(/ /g, String.fromCharCode(32 + 256))).join(' '));
  }
  throw new ApiError('bad_file', 'tokenizer.json has merges in an unknown format', { file, field: 'model.merges' });
}

/** chat_template.jinja (newer transformers), else chat_template.json's chat_template, as SpecialVocab reads them. */
function separateChatTemplate(folder: string): unknown {
  const jinja = join(folder, 'chat_template.jinja');
  if (existsSync(jinja)) {
    if (existsSync(join(folder, 'additional_chat_templates'))) return [];
    return readBoundedText(jinja, FILE_CAPS.template);
  }
  return readJson(join(folder, 'chat_template.json'), false)?.chat_template ?? null;
}

/** gguf-py's SpecialVocab (vocab.py): special ids, add_* flags and chat template, in its order. */
function specialVocab(folder: string, tokenizer: Json, loadMerges: boolean): GgufMetadataEntry[] {
  const tokenizerFile = join(folder, 'tokenizer.json');
  const config = readJson(join(folder, 'tokenizer_config.json'), false);
  const hfConfig = readJson(join(folder, 'config.json'), true);
  const added = (tokenizer.added_tokens ?? []) as AddedToken[];
  let types = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'];
  const ids = new Map<string, number>();
  const add = new Map<string, boolean>();
  const content = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : undefined;
  const tc = config ? { ...config } : null;
  let bos = tc?.bos_token as unknown;
  const cls = tc?.cls_token as unknown;
  let eos = tc?.eos_token as unknown;
  let sep = tc?.sep_token as unknown;
  if (!bos && cls && tc) tc.bos_token = bos = cls;
  if (!eos && sep && tc) tc.eos_token = eos = sep;
  const post = tokenizer.post_processor as Json | null | undefined;
  for (const proc of post ? ((post.processors as Json[] | undefined) ?? [post]) : []) {
    if (proc.type === 'RobertaProcessing')
      throw new ApiError('unsupported', 'tokenizer.json uses RobertaProcessing, which a causal LM export does not expect', { file: tokenizerFile, field: 'post_processor' });
    if (proc.type !== 'TemplateProcessing') continue;
    const single = (proc.single ?? []) as Json[];
    const pair = (proc.pair ?? []) as Json[];
    const specialOf = (x: Json | undefined): string | undefined => ((x?.SpecialToken as Json | undefined)?.id as string | undefined) || undefined;
    let first: string | undefined;
    let last: string | undefined;
    if (single.length > 1) {
      first = specialOf(single[0]);
      if (first) {
        if (!tc) bos = first;
        add.set('bos', first === bos || first === cls);
      }
      last = specialOf(single[single.length - 1]);
      if (last) {
        if (!tc) eos = last;
        else if (last !== eos) {
          // The converter keeps the old EOS as end-of-turn (eot/eom) and makes the trailing token EOS.
          const slot = !types.includes('eot') ? 'eot' : !types.includes('eom') ? 'eom' : null;
          if (slot) {
            types = [...types, slot];
            tc[`${slot}_token`] = eos;
          }
          tc.eos_token = eos = last;
        }
        add.set('eos', last === eos);
      }
    }
    if (pair.length) {
      const start = first && specialOf(pair[0]) === first ? 1 : 0;
      const stop = last && specialOf(pair[pair.length - 1]) === last ? pair.length - 1 : pair.length;
      let mid = pair.slice(start, stop);
      if (mid.length) {
        const a = (mid[0].Sequence as Json | undefined)?.id;
        const b = (mid[mid.length - 1].Sequence as Json | undefined)?.id;
        if (a === 'A' && b === 'B' && (mid = mid.slice(1, -1)).length) {
          let addSep = false;
          const entry = specialOf(mid[0]);
          if (entry && (entry === sep || entry === eos) && !last) addSep = true;
          if (mid.length === 2) {
            const second = specialOf(mid[1]);
            if (second && (second === sep || second === eos)) addSep = true;
          }
          add.set('sep', addSep);
          if (addSep && !sep && tc) tc.sep_token = sep = eos;
        }
      }
    }
  }
  let chatTemplate: string | null = null;
  if (tc) {
    const template = tc.chat_template ?? separateChatTemplate(folder);
    if (typeof template === 'string') chatTemplate = template;
    else if (template !== undefined && template !== null) {
      throw new ApiError('unsupported', 'tokenizer_config.json has several named chat templates; the GGUF export writes one', {
        file: join(folder, 'tokenizer_config.json'),
        field: 'chat_template',
      });
    }
    for (const typ of types) {
      const flag = tc[`add_${typ}_token`];
      if (typeof flag === 'boolean') add.set(typ, flag);
      const text = content(tc[`${typ}_token`]);
      if (text === undefined) continue;
      const id = added.find((t) => t.content === text)?.id;
      if (typeof id === 'number' && !ids.has(typ)) ids.set(typ, id);
    }
  }
  for (const typ of types) {
    const id = hfConfig[`${typ}_token_id`];
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && !ids.has(typ)) ids.set(typ, id);
  }
  const ID_KEYS: Record<string, string> = { bos: 'bos', eos: 'eos', unk: 'unknown', sep: 'seperator', pad: 'padding', cls: 'cls', mask: 'mask', eot: 'eot', eom: 'eom' };
  const out: GgufMetadataEntry[] = [];
  if (loadMerges) {
    const merges = mergesOf(tokenizer, tokenizerFile);
    if (merges.length) out.push({ key: 'tokenizer.ggml.merges', type: 'string[]', value: merges });
  }
  for (const [typ, id] of ids) out.push({ key: `tokenizer.ggml.${ID_KEYS[typ]}_token_id`, type: 'u32', value: id });
  for (const [typ, flag] of add) if (ID_KEYS[typ] && ['bos', 'eos', 'sep'].includes(typ)) out.push({ key: `tokenizer.ggml.add_${typ}_token`, type: 'bool', value: flag });
  if (chatTemplate !== null) out.push({ key: 'tokenizer.chat_template', type: 'string', value: chatTemplate });
  return out;
}

/** Whether tokenizer.json's normalizer prepends "▁" (SentencePiece's dummy prefix). */
function prependsSpace(tokenizer: Json): boolean {
  const norm = tokenizer.normalizer as Json | null | undefined;
  const steps = norm?.type === 'Sequence' ? ((norm.normalizers as Json[] | undefined) ?? []) : norm ? [norm] : [];
  return steps.some((s) => s.type === 'Prepend' && s.prepend === '\u2581');
}

/** The tokenizer's metadata (get_vocab_base + _set_vocab_gpt2, or the SentencePiece-like `llama` vocabulary). */
export function hfTokenizerMetadata(folder: string, vocabSize: number, architecture?: string): GgufMetadataEntry[] {
  const file = join(folder, 'tokenizer.json');
  const tokenizer = readJson(file, true, FILE_CAPS.tokenizerJson);
  const { model, pre } = vocabKind(tokenizer, file);
  const vocab = ((tokenizer.model as Json).vocab ?? {}) as Record<string, number>;
  const added = new Map(((tokenizer.added_tokens ?? []) as AddedToken[]).map((a) => [a.id, a]));
  const reverse = new Map<number, string>();
  for (const [text, id] of Object.entries(vocab)) reverse.set(id, text);
  for (const [id, a] of added) reverse.set(id, a.content);
  for (const id of reverse.keys()) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ApiError('bad_file', `tokenizer.json has token id ${id}, beyond config.json's vocab_size ${vocabSize}`, { file, field: 'model.vocab' });
    }
  }
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    const token = reverse.get(i);
    if (token === undefined) {
      tokens.push(`[PAD${i}]`);
      types.push(TOKEN_TYPE.UNUSED);
      continue;
    }
    const a = added.get(i);
    if (a) {
      const kind = model === 'llama' && token === '<unk>' ? TOKEN_TYPE.UNKNOWN : TOKEN_TYPE.CONTROL;
      types.push(a.special || looksSpecial(token) ? kind : TOKEN_TYPE.USER_DEFINED);
    } else if (model === 'llama' && /^<0x[0-9A-Fa-f]{2}>$/.test(token)) types.push(TOKEN_TYPE.BYTE);
    else types.push(TOKEN_TYPE.NORMAL);
    tokens.push(token);
  }
  const out: GgufMetadataEntry[] = [
    { key: 'tokenizer.ggml.tokens', type: 'string[]', value: tokens },
    { key: 'tokenizer.ggml.token_type', type: 'i32[]', value: types },
    { key: 'tokenizer.ggml.model', type: 'string', value: model },
    { key: 'tokenizer.ggml.pre', type: 'string', value: pre },
  ];
  if (model === 'llama') {
    // llama.cpp's SentencePiece merges the adjacent pair whose joined token has the highest score: -rank of the
    // BPE merge that makes it gives HF's merge order (see the header).
    const rank = new Map<string, number>();
    mergesOf(tokenizer, file).forEach((m, r) => {
      const joined = m.replace(' ', '');
      if (!rank.has(joined)) rank.set(joined, r);
    });
    // A token no merge makes (a single character, or one HF never reaches) ranks below every merge.
    const scores = tokens.map((t, i) => (types[i] !== TOKEN_TYPE.NORMAL ? 0 : rank.has(t) ? -rank.get(t)! : -(rank.size + i)));
    out.push({ key: 'tokenizer.ggml.scores', type: 'f32[]', value: scores });
    // Gemma3Model writes it (false for Gemma's own SentencePiece model); here what the normalizer does.
    if (architecture === 'gemma3') out.push({ key: 'tokenizer.ggml.add_space_prefix', type: 'bool', value: prependsSpace(tokenizer) });
  }
  return [...out, ...specialVocab(folder, tokenizer, model === 'gpt2')];
}

/**
 * The GGUF metadata convert_hf_to_gguf.py writes for the HF folder `folder` (general.file_type `fileType`), with
 * general.name `name`, and the extra tensors it adds.
 */
export function hfGgufMetadata(folder: string, opts: { name: string; fileType: number }): HfGgufDescription {
  const configFile = join(folder, 'config.json');
  const hp = readJson(configFile, true);
  const modelType = String(hp.model_type);
  const architecture = ARCH_OF[modelType];
  if (!architecture) {
    throw new ApiError(
      'unsupported',
      `a ${modelType} folder cannot be written as GGUF by PrefixLab (it can: ${Object.keys(ARCH_OF).join(', ')}); convert it with llama.cpp's convert_hf_to_gguf.py, or export with --format merged / peft`,
      { file: configFile, field: 'model_type' },
    );
  }
  if (hp.rope_scaling && architecture !== 'phi3' && architecture !== 'gemma3') {
    throw new ApiError('unsupported', `config.json has rope_scaling, which the GGUF export does not write for ${architecture}`, { file: configFile, field: 'rope_scaling' });
  }
  const p = new Params(architecture, hp, configFile);
  PARAMS[architecture](p);
  const head: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: architecture },
    { key: 'general.type', type: 'string', value: 'model' },
    { key: 'general.name', type: 'string', value: opts.name },
  ];
  const fileType: GgufMetadataEntry[] = WRITES_FILE_TYPE.has(architecture) ? [{ key: 'general.file_type', type: 'u32', value: opts.fileType }] : [];
  const params = [...p.entries];
  p.entries.length = 0;
  const extraTensors = architecture === 'phi3' ? phi3Extra(p) : [];
  const vocabSize = p.num('vocab_size');
  return {
    architecture,
    metadata: [
      ...head,
      ...params,
      ...fileType,
      { key: 'general.quantization_version', type: 'u32', value: QUANTIZATION_VERSION },
      ...p.entries,
      ...hfTokenizerMetadata(folder, vocabSize, architecture),
    ],
    extraTensors,
  };
}
