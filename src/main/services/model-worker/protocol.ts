// Messages between the app and the model worker process (worker.ts): the model, tokenizer and dataset work
// that serve and the Electron app run off their event loop. Every call has an id; events stream back under it.
import type { InspectResult, TokenPreview } from '@shared/contract/datasets';
import type { ApiErrorData } from '@shared/errors';
import type { ModelInspection, GenerateTextRequest, GenerateTextResult } from '../model-service';
import type { DiscoveryResult } from '../model-discovery';
import type { ImportOptions, ScanOptions } from '../dataset-service';
import type { DatasetManifest } from '@shared/contract/datasets';
import type { TokenPreviewOptions } from '../../datasets/stats/token-preview';

/** Scan options that cross the process boundary: data only (the worker makes the tokenizer and callbacks). */
export type WorkerScanOptions = Omit<ScanOptions, 'tokenizer' | 'signal' | 'onProgress'>;

export interface WorkerCalls {
  inspectModel: { args: { path: string }; result: ModelInspection; event: never };
  generate: { args: Omit<GenerateTextRequest, 'onToken' | 'signal'>; result: GenerateTextResult; event: { id: number; text: string } };
  scanDataset: {
    args: { kind: 'inspect' | 'preview'; file: string; options: WorkerScanOptions & { rows?: number }; modelPath?: string };
    result: InspectResult;
    event: Parameters<NonNullable<ScanOptions['onProgress']>>[0];
  };
  importDataset: {
    args: {
      file: string;
      options: Omit<WorkerScanOptions, 'limitRows' | 'previewRows' | 'evalFile'> & Pick<ImportOptions, 'excludeInvalid' | 'name' | 'splitName'>;
      modelPath?: string;
      home: string;
    };
    result: DatasetManifest;
    event: Parameters<NonNullable<ScanOptions['onProgress']>>[0];
  };
  /** Finds models in the tools' stores (this process's environment and home) and the given folders. */
  discoverModels: { args: { folders: string[] }; result: DiscoveryResult; event: never };
  previewTokens: { args: { modelPath: string; example: { prompt: string; target: string; label?: string }; options: TokenPreviewOptions }; result: TokenPreview; event: never };
  /** Test hook: busy-waits `ms` milliseconds on the worker's thread (a stand-in for a stuck model call). */
  spin: { args: { ms: number }; result: { spun: number }; event: never };
}
export type WorkerMethod = keyof WorkerCalls;

export type ToWorker = { type: 'call'; id: number; method: WorkerMethod; args: unknown } | { type: 'cancel'; id: number };

export type FromWorker =
  { type: 'ready' } | { type: 'event'; id: number; event: unknown } | { type: 'result'; id: number; value: unknown } | { type: 'error'; id: number; error: ApiErrorData };
