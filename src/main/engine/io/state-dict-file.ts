// A safetensors file of float tensors read back as a StateDict (adapters, checkpoints, optimiser state).
import type { StateDict } from '../methods/method';
import { SafetensorsReader } from './safetensors';

export function readStateDictFile(path: string): StateDict {
  const reader = SafetensorsReader.open(path);
  try {
    const out: StateDict = {};
    for (const name of reader.tensors.keys()) {
      const tensor = reader.read(name);
      out[name] = { shape: tensor.shape, data: tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data) };
    }
    return out;
  } finally {
    reader.close();
  }
}
