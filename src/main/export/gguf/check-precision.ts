// Which llama.cpp check thresholds (llama-cpp-check.ts thresholdsFor) a base GGUF gets: by the least precise type
// its weight matrices are stored in, not by the type holding the most values. Gemma-3-270M Q4_K_M keeps its
// 262144-token embedding (63% of the values) in Q8_0 while every block is Q4_K, Q5_0 or Q6_K: llama.cpp's
// 4-bit products are what move its log-probabilities (a trained LoRA measured 3.5, beyond the 8-bit 1.5).
import type { GgufTensorInfo } from '../../engine/io/gguf/gguf-file';

/** Types llama.cpp computes with at 8 bits or more; every other quantised type is low-bit. */
const AT_LEAST_8_BIT = ['F64', 'F32', 'F16', 'BF16', 'Q8_0'];

/** The type the check's thresholds go by: the least precise among the file's matrices (1-D tensors stay F32). */
export function checkPrecisionType(file: { tensors: readonly Pick<GgufTensorInfo, 'type' | 'shape'>[] }): string {
  const types = new Set(file.tensors.filter((t) => t.shape.length > 1).map((t) => t.type));
  const lowBit = [...types].find((t) => !AT_LEAST_8_BIT.includes(t));
  if (lowBit) return lowBit;
  return ['Q8_0', 'BF16', 'F16', 'F32', 'F64'].find((t) => types.has(t)) ?? 'F32';
}
