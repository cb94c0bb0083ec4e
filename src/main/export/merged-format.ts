// Merged export (every method whose definition has exports.merged: LoRA, full fine-tuning): a Hugging Face
// model folder — config.json, model.safetensors with every weight in the HF layout (float32; LoRA folded in as W + s·B·A, in GPT-2's [in, out] Conv1D layout
// where that applies), tokenizer files and generation_config.json copied — that
// AutoModelForCausalLM.from_pretrained and our own loader read. A llama2.c base gets a generated config.json.
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import type { LoadedModel } from '../engine/io/load-model';
import { writeSafetensors, type F32Tensor } from '../engine/io/safetensors';
import { getMethod } from '../engine/methods/registry';
import type { LlamaConfig } from '../engine/models/llama';
import { readJsonStrict } from '../registry/files';
import { writeJsonAtomic } from '../platform/atomic-write';
import type { AttachedAdapter } from './engine-session';

export const MERGED_WEIGHTS_FILE = 'model.safetensors';

/** Files copied from an HF base folder besides config.json (which is rewritten). */
function isCopiedFile(name: string): boolean {
  return (
    name === 'generation_config.json' ||
    name.startsWith('tokenizer') ||
    ['special_tokens_map.json', 'added_tokens.json', 'vocab.json', 'vocab.txt', 'merges.txt', 'chat_template.jinja', 'chat_template.json'].includes(name)
  );
}

/** config.json a llama2.c checkpoint would have after conversion to Hugging Face's LLaMA. */
function llama2cConfigJson(c: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.hidden,
    intermediate_size: c.intermediate,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    head_dim: c.headDim,
    num_hidden_layers: c.layers,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.normEps,
    rope_theta: c.rope.theta,
    hidden_act: 'silu',
    tie_word_embeddings: c.tiedEmbeddings,
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
}

/** Writes the merged model into `dir` (an empty folder); returns the file names written. */
export async function writeMergedFolder(dir: string, loaded: LoadedModel, attached: AttachedAdapter): Promise<string[]> {
  const method = attached.adapter.method;
  const merged = getMethod(method).exports.merged;
  if (!merged) throw new ApiError('unsupported', `method ${method} cannot be merged into the weights`, { field: 'format' });
  const overrides = merged.mergedWeights(attached.adapter);
  const written: string[] = [];
  try {
    const tensors: Record<string, F32Tensor> = {};
    for (const [name, weight] of loaded.model.weights) {
      const source = overrides.get(name) ?? weight; // full: the model's weights already hold the trained values, no overrides
      tensors[name] = { dtype: 'F32', shape: [...source.shape], data: Float32Array.from(source.dataSync() as Float32Array) };
    }
    writeSafetensors(join(dir, MERGED_WEIGHTS_FILE), tensors, { format: 'pt' });
    written.push(MERGED_WEIGHTS_FILE);
  } finally {
    for (const tensor of overrides.values()) tensor.dispose();
  }

  if (loaded.format === 'hf') {
    const config = readJsonStrict(join(loaded.path, 'config.json'));
    // Weights are float32 now, whatever the base stored.
    config.torch_dtype = 'float32';
    await writeJsonAtomic(join(dir, 'config.json'), config);
    written.push('config.json');
    for (const name of readdirSync(loaded.path).sort()) {
      const from = join(loaded.path, name);
      if (!isCopiedFile(name) || !statSync(from).isFile()) continue;
      copyFileSync(from, join(dir, name));
      written.push(name);
    }
  } else {
    await writeJsonAtomic(join(dir, 'config.json'), llama2cConfigJson(loaded.model.config as LlamaConfig));
    written.push('config.json');
    const generation = { bos_token_id: 1, eos_token_id: 2 };
    await writeJsonAtomic(join(dir, 'generation_config.json'), generation);
    written.push('generation_config.json');
  }
  if (!existsSync(join(dir, 'config.json'))) throw new ApiError('internal', 'merged export wrote no config.json', { file: dir });
  return written.sort();
}
