// Where a Hugging Face weight lives in a GGUF file and how llama.cpp's converter (convert_hf_to_gguf.py)
// changed its layout on the way in, so the loader can undo it: the Q/K row permutation of `llama`, the
// transposed Conv1D matrices of `gpt2`, and the regrouped fused QKV rows of `gptneox`.
export interface GgufWeightSource {
  tensor: string;
  /** llama's Q/K rows, permuted within each of this many heads (LlamaModel.permute). */
  permuteHeads?: number;
  /** GPT-2's Conv1D weights: HF stores [in, out], the converter transposes them to [out, in]. */
  transpose?: boolean;
  /** GPT-NeoX's fused query_key_value: HF rows are [heads, 3, headDim], the converter's [3, heads, headDim]. */
  neoxQkvHeads?: number;
}

/** The GGUF shape (ne0 first) the converter writes for an HF weight of shape `hfShape`. */
export function ggufShapeOf(source: GgufWeightSource, hfShape: number[]): number[] {
  // GGUF lists ne0 (the contiguous dimension) first: a torch [out, in] matrix is written as [in, out].
  // A transposed Conv1D weight [in, out] became torch [out, in], so its GGUF shape reads [in, out] again.
  return source.transpose ? [...hfShape] : [...hfShape].reverse();
}

/** Tensor data as read from the file (row-major over the reversed GGUF shape) → the HF weight's values. */
export function toHfLayout(source: GgufWeightSource, data: Float32Array, ggufShape: number[]): Float32Array {
  const rows = ggufShape.length > 1 ? ggufShape[ggufShape.length - 1] : ggufShape[0];
  const cols = ggufShape.length > 1 ? data.length / rows : 1;
  if (source.permuteHeads) return unpermuteRows(data, source.permuteHeads, cols);
  if (source.transpose) return transpose(data, rows, cols);
  if (source.neoxQkvHeads) return regroupNeoxQkv(data, source.neoxQkvHeads, cols);
  return data;
}

/** [rows, cols] row-major → [cols, rows] row-major. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/**
 * Inverse of GPTNeoXModel.modify_tensors: GGUF rows [3, heads, headDim] (all q, all k, all v) → HF rows
 * [heads, 3, headDim] (per head its q, k, v), each row `cols` values wide (1 for the bias).
 */
export function regroupNeoxQkv(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  if (!Number.isInteger(rows) || rows % (3 * heads) !== 0) throw new Error(`cannot regroup ${data.length} values as [3 × ${heads} heads × head size, ${cols}]`);
  const headDim = rows / (3 * heads);
  const block = headDim * cols;
  const out = new Float32Array(data.length);
  for (let part = 0; part < 3; part++) {
    for (let h = 0; h < heads; h++) {
      const from = (part * heads + h) * block;
      out.set(data.subarray(from, from + block), (h * 3 + part) * block);
    }
  }
  return out;
}

/**
 * Inverse of llama.cpp's permute on a row-major [heads·headDim, cols] matrix: within each head, GGUF row
 * 2j + s holds HF row s·headDim/2 + j (llama.cpp reshapes rows to [heads, 2, headDim/2] and swaps the last two).
 */
export function unpermuteRows(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  if (!Number.isInteger(rows) || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new Error(`cannot unpermute ${data.length} values as [${heads} heads × even head size, ${cols}]`);
  }
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * headDim + 2 * j + s) * cols;
        out.set(data.subarray(from, from + cols), (h * headDim + s * half + j) * cols);
      }
    }
  }
  return out;
}

/**
 * llama.cpp's permute (LlamaModel.permute) on a row-major [heads·headDim, cols] matrix, the inverse of
 * unpermuteRows: within each head, HF row s·headDim/2 + j goes to GGUF row 2j + s. The GGUF LoRA export uses
 * it on lora_b's rows, so that B·A lands on the permuted rows of the base weight it adapts.
 */
export function permuteRows(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  if (!Number.isInteger(rows) || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new Error(`cannot permute ${data.length} values as [${heads} heads × even head size, ${cols}]`);
  }
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * headDim + s * half + j) * cols;
        out.set(data.subarray(from, from + cols), (h * headDim + 2 * j + s) * cols);
      }
    }
  }
  return out;
}

/** GPTNeoXModel.modify_tensors, the inverse of regroupNeoxQkv: HF rows [heads, 3, headDim] → GGUF rows [3, heads, headDim]. */
export function groupNeoxQkv(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  if (!Number.isInteger(rows) || rows % (3 * heads) !== 0) throw new Error(`cannot group ${data.length} values as [${heads} heads × 3 × head size, ${cols}]`);
  const block = (rows / (3 * heads)) * cols;
  const out = new Float32Array(data.length);
  for (let part = 0; part < 3; part++) {
    for (let h = 0; h < heads; h++) {
      const from = (h * 3 + part) * block;
      out.set(data.subarray(from, from + block), (part * heads + h) * block);
    }
  }
  return out;
}

/**
 * The rows of a matrix whose rows are the HF weight's output rows (a LoRA's B [out, r]) put in the order the
 * converter gave the base weight's rows in the GGUF file (the inverse of toHfLayout's row changes). A transposed
 * GPT-2 Conv1D weight needs nothing: B·A is [out, in] like the converted weight.
 */
export function toGgufRowOrder(source: GgufWeightSource, data: Float32Array, cols: number): Float32Array {
  if (source.permuteHeads) return permuteRows(data, source.permuteHeads, cols);
  if (source.neoxQkvHeads) return groupNeoxQkv(data, source.neoxQkvHeads, cols);
  return data;
}
