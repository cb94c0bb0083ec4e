// Everything a handler may use: the services (created once per process, lazily, so `prefixlab info` does
// not pay for the training stack) and the event bus.
import { EventBus } from '../rpc/event-bus';
import { SystemService } from '../services/system-service';
import { FilesService } from '../services/files-service';
import { ModelStore } from '../services/model-store';
import { RunQueue } from '../services/run-queue';
import { ModelWorker } from '../services/model-worker/client';
import { PathGuard } from '../platform/path-guard';
import type { ProcessLauncher } from '../platform/process-launcher';

export interface AppOptions {
  home: string;
  shell: 'electron' | 'headless';
  /** Folders the user picked; file paths from clients must stay inside these or the home folder. */
  roots?: string[];
  /** How child processes (training, the model worker) start: the Electron shell passes its utilityProcess launcher; default child_process.fork. */
  launcher?: ProcessLauncher;
}

/** What a shell with native dialogs supplies (Electron); absent headless, where files.pickFile is unsupported. */
export interface NativeDialogs {
  /** The chosen absolute path, or null when the user cancelled. */
  pickFile(request: { kind: 'file' | 'folder'; title?: string; filters?: { name: string; extensions: string[] }[] }): Promise<string | null>;
}

export interface AppContext {
  readonly options: AppOptions;
  readonly events: EventBus;
  readonly system: SystemService;
  /** Which file paths clients may read or write. */
  readonly paths: PathGuard;
  /** The headless folder browser and upload target. */
  readonly files: FilesService;
  /** Imported models (<home>/models/<id>/manifest.json). */
  readonly models: ModelStore;
  /** The workbench's training queue: comparisons, one run at a time, progress on the event bus. */
  readonly runs: RunQueue;
  /** Model, tokenizer and dataset work off the event loop (a child process with time limits). */
  readonly modelWorker: ModelWorker;
  /** Long actions a client may cancel by id (generations, dataset passes): id → its AbortController. */
  readonly cancellables: Map<string, AbortController>;
  /** Set by the Electron shell after creating the context. */
  dialogs?: NativeDialogs;
}

export function createAppContext(options: AppOptions): AppContext {
  const events = new EventBus();
  const paths = new PathGuard([options.home, ...(options.roots ?? [])]);
  let system: SystemService | undefined;
  let files: FilesService | undefined;
  let models: ModelStore | undefined;
  let runs: RunQueue | undefined;
  let modelWorker: ModelWorker | undefined;
  return {
    options,
    events,
    paths,
    cancellables: new Map(),
    get system() {
      return (system ??= new SystemService(options.home, options.shell));
    },
    get files() {
      return (files ??= new FilesService(options.home, paths));
    },
    get modelWorker() {
      return (modelWorker ??= new ModelWorker({ launcher: options.launcher }));
    },
    get models() {
      return (models ??= new ModelStore(options.home));
    },
    get runs() {
      return (runs ??= new RunQueue(
        options.home,
        {
          onQueue: (items) => events.emit('training.queue', { items }),
          onProgress: (progress) => events.emit('training.progress', progress),
          onLog: (item, message) => events.emit('training.log', { itemId: item.itemId, runId: item.runId, message }),
        },
        undefined,
        options.launcher,
      ));
    },
  };
}
