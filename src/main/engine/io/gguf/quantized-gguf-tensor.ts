// A GGUF weight kept as its file bytes (its quantized blocks), dequantized on demand by exactly the path that
// loading it as float32 takes (dequantize, then the converter's layout undone by toHfLayout), so each use sees
// the same float32 values as the dequantize-at-load model. The quantized frozen base (loadGguf's quantizedBase)
// keeps its layers' linear matrices this way; models/quantized-linear.ts dequantizes them inside each product.
import type { QuantizedMatrix } from '../../models/quantized-linear';
import { dequantize } from './dequantize';
import { ggmlTypeByName } from './ggml-types';
import type { GgufTensorInfo } from './gguf-file';
import { toHfLayout, type GgufWeightSource } from './gguf-layout';

/** GGML types worth keeping compact: F32 would gain nothing. */
export function isCompactType(type: string): boolean {
  return type !== 'F32';
}

export class QuantizedGgufTensor implements QuantizedMatrix {
  readonly shape: [number, number];

  constructor(
    private readonly info: GgufTensorInfo,
    private readonly source: GgufWeightSource,
    private readonly bytes: Uint8Array,
    /** The HF shape of the weight. */
    hfShape: number[],
    private readonly file: string,
  ) {
    if (hfShape.length !== 2) throw new Error(`quantized weight ${info.name} must be a matrix, not [${hfShape.join(', ')}]`);
    this.shape = [hfShape[0], hfShape[1]];
  }

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  get type(): string {
    return this.info.type;
  }

  values(): Float32Array {
    const data = dequantize(this.info.type, this.bytes, this.info.elements, { tensor: this.info.name, file: this.file });
    return toHfLayout(this.source, data, this.info.shape);
  }

  rowRange(start: number, end: number): Float32Array {
    const [rows, cols] = this.shape;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end)
      throw new Error(`rows [${start}, ${end}) are outside ${this.info.name}'s ${rows}`);
    // A weight the converter stored in another row order (permuted, transposed, regrouped) is undone whole.
    if (!this.isRowAligned()) return this.values().slice(start * cols, end * cols);
    const rowBytes = this.rowBytes();
    return dequantize(this.info.type, this.bytes.subarray(start * rowBytes, end * rowBytes), (end - start) * cols, { tensor: this.info.name, file: this.file });
  }

  rows(ids: ArrayLike<number>): Float32Array {
    const cols = this.shape[1];
    const out = new Float32Array(ids.length * cols);
    if (!this.isRowAligned()) {
      const all = this.values();
      for (let i = 0; i < ids.length; i++) out.set(all.subarray(ids[i] * cols, (ids[i] + 1) * cols), i * cols);
      return out;
    }
    const seen = new Map<number, Float32Array>(); // a batch repeats tokens (padding above all)
    for (let i = 0; i < ids.length; i++) {
      let row = seen.get(ids[i]);
      if (!row) seen.set(ids[i], (row = this.rowRange(ids[i], ids[i] + 1)));
      out.set(row, i * cols);
    }
    return out;
  }

  /** The file's rows are the model's rows: no layout step, and whole blocks per row (GGUF requires it of ne0). */
  private isRowAligned(): boolean {
    const { permuteHeads, transpose, neoxQkvHeads } = this.source;
    return !permuteHeads && !transpose && !neoxQkvHeads && this.info.shape.length === 2 && this.info.shape[0] === this.shape[1];
  }

  private rowBytes(): number {
    const { blockSize, typeSize } = ggmlTypeByName(this.info.type)!;
    return (this.shape[1] / blockSize) * typeSize;
  }
}
