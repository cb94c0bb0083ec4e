// The trainer's quantizedBase option resolved for one run: whether loadGguf keeps the base's quantized layer
// matrices compact (quantized-linear.ts). Only a GGUF base has them, and only a frozen base can stay quantized.
import { ApiError } from '@shared/errors';

/** Methods that train the base's own weights (they need them as float32 variables). */
const BASE_TRAINING_METHODS: ReadonlySet<string> = new Set(['full']);

/** 'on' asks for it (refused where it cannot apply), 'auto' takes it wherever it applies, 'off' never. */
export function resolveQuantizedBase(mode: 'auto' | 'on' | 'off', method: string, format: string, modelPath: string): boolean {
  if (mode === 'off') return false;
  const reason =
    format !== 'gguf'
      ? `the base is not a GGUF file (${format}), so it has no quantized weights`
      : BASE_TRAINING_METHODS.has(method)
        ? `method ${method} trains the base's weights, which need float32`
        : null;
  if (reason === null) return true;
  if (mode === 'auto') return false;
  throw new ApiError('invalid_argument', `quantizedBase on: ${reason}; use auto or off`, { file: modelPath, field: 'quantizedBase' });
}
