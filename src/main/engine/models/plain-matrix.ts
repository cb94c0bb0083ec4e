// For tests: a QuantizedMatrix over plain float32 values (what a GGUF tensor's blocks dequantize to), so the
// quantized code paths can be compared with the float32 ones on the same values.
import type { QuantizedMatrix } from './quantized-linear';

export function plainMatrix(values: Float32Array, shape: [number, number]): QuantizedMatrix {
  const [, cols] = shape;
  return {
    shape,
    byteLength: values.byteLength,
    values: () => values.slice(),
    rowRange: (start, end) => values.slice(start * cols, end * cols),
    rows: (ids) => {
      const out = new Float32Array(ids.length * cols);
      for (let i = 0; i < ids.length; i++) out.set(values.subarray(ids[i] * cols, (ids[i] + 1) * cols), i * cols);
      return out;
    },
  };
}
