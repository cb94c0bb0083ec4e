// What model discovery reports: one entry per model found in a store, read in place (never copied). A broken
// entry keeps its name and path and carries `error`, one line with the file and the cause; the scan goes on.
import { formatApiError } from '@shared/errors';
import { toErrorData } from '../../platform/system-errors';

export type DiscoverySource = 'huggingface' | 'ollama' | 'lmstudio' | 'folder';

export interface DiscoveredModel {
  /** How the store names it: `org/name` (Hugging Face), `name:tag` (Ollama), the path below the store root otherwise. */
  name: string;
  /** The model folder (Hugging Face layout) or the .gguf file; for a broken Ollama entry, its manifest. */
  path: string;
  format: 'hf' | 'gguf';
  /** `model_type` of config.json, or `general.architecture` of the GGUF header; null when unreadable. */
  architecture: string | null;
  /** Sum of the element counts of every weight tensor; null when unreadable. */
  parameters: number | null;
  /** Tensor count per storage type (GGML type such as Q4_K, or safetensors dtype such as BF16); null when unreadable. */
  quantization: Record<string, number> | null;
  source: DiscoverySource;
  /** Bytes on disk of the weight files (the targets of symlinks); null when unknown. */
  sizeBytes: number | null;
  /** Why the entry cannot be read, in one line; absent for a readable model. */
  error?: string;
}

export interface DiscoveryResult {
  models: DiscoveredModel[];
  /** Problems with a store as a whole (a folder given that does not exist, a scan stopped at its cap), one line each. */
  warnings: string[];
}

/** Bounds of one scan: a store is never followed unboundedly (a home folder given as a model folder must not hang). */
export const DISCOVERY_LIMITS = {
  /** Folder entries read per store root, all levels together. */
  entriesPerRoot: 20_000,
  /** Levels below a user folder or an LM Studio root. */
  folderDepth: 6,
  /** Models reported per store root. */
  modelsPerRoot: 1_000,
  /** An Ollama manifest is a few hundred bytes. */
  manifestBytes: 1024 * 1024,
  /** Snapshots listed per Hugging Face repository when refs/main is absent. */
  snapshotsPerRepo: 16,
} as const;

/** Counts folder entries read against the per-root cap. */
export class ScanBudget {
  private left: number = DISCOVERY_LIMITS.entriesPerRoot;
  private models = 0;
  exhausted = false;

  /** Takes one entry; false once the cap is reached. */
  take(): boolean {
    if (this.left <= 0) {
      this.exhausted = true;
      return false;
    }
    this.left--;
    return true;
  }

  /** Counts one model; false once the model cap is reached. */
  addModel(): boolean {
    if (this.models >= DISCOVERY_LIMITS.modelsPerRoot) {
      this.exhausted = true;
      return false;
    }
    this.models++;
    return true;
  }
}

const MAX_ERROR_CHARS = 400;

/** Any thrown value as one line naming the file (ApiError's file:field: message), never a stack. */
export function errorLine(err: unknown, path?: string): string {
  const line = formatApiError(toErrorData(err, path)).replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS)}…` : line;
}

/** A broken entry: what is known about it, and the reason. */
export function brokenEntry(base: Pick<DiscoveredModel, 'name' | 'path' | 'format' | 'source'>, error: string): DiscoveredModel {
  return { ...base, architecture: null, parameters: null, quantization: null, sizeBytes: null, error };
}
