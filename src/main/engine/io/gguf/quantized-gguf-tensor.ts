// A GGUF weight kept as its file bytes (its quantized blocks), dequantized on demand by exactly the path that
// loading it as float32 takes (dequantize, then the converter's layout undone by toHfLayout), so each use sees
// the same float32 values as the dequantize-at-load model. The quantized frozen base (loadGguf's quantizedBase)
// keeps its layers' linear matrices this way; models/quantized-linear.ts dequantizes them inside each product.
import type { QuantizedMatrix } from '../../models/quantized-linear';
import { dequantize } from './dequantize';
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
}
