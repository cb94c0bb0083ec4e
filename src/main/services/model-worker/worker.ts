// The model worker process: runs model inspection, generation, tokenization and dataset scans for the app
// (serve, Electron), so a slow or stuck call never blocks their event loop; the parent kills it on a time
// limit. Models and tokenizers stay cached here between calls.
import { ApiError } from '@shared/errors';
import { toErrorData } from '../../platform/system-errors';
import { loadTokenizer } from '../../engine/io/load-model';
import type { DatasetTokenizer } from '../../datasets/stats/tokenize-example';
import { importDataset, inspectDataset, previewDataset, previewTokens } from '../dataset-service';
import { generateText, inspectModel } from '../model-service';
import { discoverModels } from '../model-discovery';
import { parentChannel } from '../../platform/parent-channel';
import type { FromWorker, ToWorker, WorkerCalls, WorkerMethod } from './protocol';

type Handler<M extends WorkerMethod> = (args: WorkerCalls[M]['args'], emit: (event: WorkerCalls[M]['event']) => void, signal: AbortSignal) => Promise<WorkerCalls[M]['result']>;

const tokenizers = new Map<string, { tokenizer: DatasetTokenizer; contextLength: number; chatTemplate: string | null }>();

/** A model's tokenizer (weights are not read), as the dataset code takes it: the engine's, as it is. */
async function datasetTokenizer(modelPath: string): Promise<{ tokenizer: DatasetTokenizer; contextLength: number; chatTemplate: string | null }> {
  const cached = tokenizers.get(modelPath);
  if (cached) return cached;
  const { tokenizer, config } = await loadTokenizer(modelPath);
  if (!tokenizer) throw new ApiError('unsupported', 'this model has no tokenizer, so token lengths cannot be measured', { field: 'modelId' });
  // Its eosTokenId makes the preview append EOS where the trainer does (see appendsEos).
  const entry = { tokenizer, contextLength: config.maxPositions, chatTemplate: tokenizer.chatTemplate };
  tokenizers.set(modelPath, entry);
  return entry;
}

/**
 * The options with the selected model's tokenizer and context length, and its chat template unless the request
 * brings one: chat data (and a template with chat: true) is then rendered in the model's own format.
 */
async function withTokenizer<T extends { contextLength?: number; chatTemplate?: string }>(
  options: T,
  modelPath: string | undefined,
): Promise<T & { tokenizer?: DatasetTokenizer }> {
  if (!modelPath) return options;
  const { tokenizer, contextLength, chatTemplate } = await datasetTokenizer(modelPath);
  return { ...options, tokenizer, contextLength: options.contextLength ?? contextLength, ...(options.chatTemplate || !chatTemplate ? {} : { chatTemplate }) };
}

const handlers: { [M in WorkerMethod]: Handler<M> } = {
  inspectModel: async ({ path }) => inspectModel(path),
  generate: async (req, emit, signal) => generateText({ ...req, signal, onToken: (token) => emit(token) }),
  scanDataset: async ({ kind, file, options, modelPath }, emit, signal) => {
    const full = { ...(await withTokenizer(options, modelPath)), signal, onProgress: emit };
    return kind === 'inspect' ? inspectDataset(file, full) : previewDataset(file, full);
  },
  importDataset: async ({ file, options, modelPath, home }, emit, signal) => importDataset(file, { ...(await withTokenizer(options, modelPath)), signal, onProgress: emit }, home),
  discoverModels: async ({ folders }) => discoverModels({ folders }),
  previewTokens: async ({ modelPath, example, options }) => previewTokens(example, (await datasetTokenizer(modelPath)).tokenizer, options),
  spin: async ({ ms }) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      // stuck on purpose
    }
    return { spun: ms };
  },
};

const running = new Map<number, AbortController>();
// Node IPC (child_process.fork: CLI, serve) or Electron's parentPort (utilityProcess: the desktop app).
const channel = parentChannel<FromWorker, ToWorker>();
if (!channel) {
  console.error('prefixlab model worker: no parent process to serve (it is started by the app)');
  process.exit(2);
}
const send = (message: FromWorker): void => void channel.send(message);

channel.onMessage((message) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  if (message.type !== 'call') return;
  const controller = new AbortController();
  running.set(message.id, controller);
  const handler = handlers[message.method] as Handler<WorkerMethod> | undefined;
  const work = handler
    ? handler(message.args as never, (event) => send({ type: 'event', id: message.id, event }), controller.signal)
    : Promise.reject(new ApiError('internal', `unknown worker method ${String(message.method)}`));
  work
    .then(
      (value) => send({ type: 'result', id: message.id, value }),
      (err: unknown) => send({ type: 'error', id: message.id, error: toErrorData(err) }),
    )
    .finally(() => running.delete(message.id));
});
// The parent went away: nothing left to serve.
channel.onDisconnect(() => process.exit(0));
send({ type: 'ready' });
