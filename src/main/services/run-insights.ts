// What the Train view asks of a finished (or checkpointed) run: base-vs-tuned generations and the method's own
// diagnostic, when its definition has one (method.md §1: attention mass on the prefix for Prefix-Tuning; the
// memory's share of the attention output for Prefix-Tuning+). The adapter comes from the run's newest checkpoint,
// or (base-vs-tuned) from any registry adapter or finished run, on the base model it records.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunDiagnostics } from '@shared/contract/calls/training';
import { ApiError } from '@shared/errors';
import { baseVsTuned } from '../engine/eval/generation';
import type { LoadedModel } from '../engine/io/load-model';
import { allMethods, getMethod, parseMethodOptions } from '../engine/methods/registry';
import { readEvalExamples, readExamples } from '../engine/train/sources';
import { attachWithState, loadBaseModel } from '../export/engine-session';
import { readStateDictFile } from '../registry/adapter-store';
import { ADAPTER_TENSORS_FILE } from '../registry/layout';
import { RunsStore } from '../registry/runs-store';
import type { RunManifest } from '@shared/contract/training';
import { getModel } from './model-service';
import { attachAdapter, checkAdapterBase, resolveRegistryAdapter } from './adapter-session';

interface Session {
  /** Where the base model lives (what "base" generates with). */
  basePath: string;
  method: RunManifest['method'];
  loaded: LoadedModel;
  attached: ReturnType<typeof attachWithState>;
  release(): void;
}

/**
 * The run's base model with the newest checkpoint's adapter attached (or, `initial`, the adapter the run started
 * from: attached as the training job attaches it, at the run's seed); release() frees what it made.
 */
async function openRun(home: string, runId: string, initial = false): Promise<Session> {
  const store = new RunsStore(home);
  const manifest = store.read(runId);
  if (initial) return openInitial(manifest);
  const last = manifest.checkpoints[manifest.checkpoints.length - 1];
  const tensors = last ? join(store.runDir(runId), last.dir, ADAPTER_TENSORS_FILE) : null;
  if (!tensors || !existsSync(tensors)) throw new ApiError('not_found', `run ${runId} has no checkpoint yet; wait for its first one`, { field: 'runId' });
  // Full fine-tuning replaces base weights: give it a private copy so the cached model stays the base.
  const isPrivate = getMethod(manifest.method).trainsBaseWeights === true;
  const loaded = isPrivate ? await loadBaseModel(manifest.baseModel.path) : (await getModel(manifest.baseModel.path)).loaded;
  let attached;
  try {
    attached = attachWithState(loaded, manifest.method, manifest.methodOptions, readStateDictFile(tensors));
  } catch (err) {
    if (isPrivate) loaded.dispose();
    throw err;
  }
  return {
    basePath: manifest.baseModel.path,
    method: manifest.method,
    loaded,
    attached,
    release: () => {
      attached.adapter.dispose();
      if (isPrivate) loaded.dispose();
    },
  };
}

/** The untrained adapter of a run: its method and options at its seed, as runTrainJob attaches it before step 0. */
async function openInitial(manifest: RunManifest): Promise<Session> {
  const definition = getMethod(manifest.method);
  if (definition.trainsBaseWeights) throw new ApiError('unsupported', 'an untrained full fine-tuning run is the base model itself', { field: 'initial' });
  const { loaded } = await getModel(manifest.baseModel.path);
  const tokenizer = loaded.tokenizer;
  const options = parseMethodOptions(manifest.method, manifest.methodOptions);
  const adapter = definition.attach(loaded.model, options as never, {
    seed: manifest.seed,
    encode: tokenizer ? (text: string) => tokenizer.encode(text, { addSpecialTokens: false }) : undefined,
  });
  adapter.setTraining(false);
  return { basePath: manifest.baseModel.path, method: manifest.method, loaded, attached: { adapter, options }, release: () => adapter.dispose() };
}

/** A registry adapter (or finished run) by id on the base model it records, checked to still be that model. */
async function openAdapter(home: string, adapterId: string): Promise<Session> {
  // The adapter code names the CLI's flag; this call's field is adapterId.
  const asField = (err: unknown): unknown =>
    err instanceof ApiError && err.field === '--adapter' ? new ApiError(err.code, err.message, { file: err.file, line: err.line, field: 'adapterId' }) : err;
  try {
    const adapter = resolveRegistryAdapter(home, adapterId);
    const basePath = adapter.base.path;
    if (!basePath || !existsSync(basePath)) {
      throw new ApiError('not_found', basePath ? `adapter ${adapterId} was made on ${basePath}, which is no longer there` : `adapter ${adapterId} records no base model`, {
        file: basePath ?? undefined,
        field: 'adapterId',
      });
    }
    await checkAdapterBase(adapter, basePath);
    const isPrivate = getMethod(adapter.method).trainsBaseWeights === true;
    const loaded = isPrivate ? await loadBaseModel(basePath) : (await getModel(basePath)).loaded;
    let attached;
    try {
      attached = attachAdapter(loaded, adapter, basePath);
    } catch (err) {
      if (isPrivate) loaded.dispose();
      throw err;
    }
    return {
      basePath,
      method: adapter.method,
      loaded,
      attached,
      release: () => {
        attached.adapter.dispose();
        if (isPrivate) loaded.dispose();
      },
    };
  } catch (err) {
    throw asField(err);
  }
}

function tokenizerOf(session: Session) {
  const tokenizer = session.loaded.tokenizer;
  if (!tokenizer) throw new ApiError('unsupported', 'the base model has no tokenizer', { file: session.basePath });
  return tokenizer;
}

/** Which adapter base-vs-tuned compares: a run of the comparison (its newest checkpoint) or a registry id. */
export type TunedSource = { runId: string } | { adapterId: string };

/** Greedy continuations by the base model and by the adapted model (`source` as a string: a run id, as before). */
export async function generateBaseVsTuned(
  home: string,
  source: string | TunedSource,
  prompts: string[],
  maxNewTokens: number,
): Promise<{ prompt: string; base: string; tuned: string }[]> {
  const from = typeof source === 'string' ? { runId: source } : source;
  const session = 'adapterId' in from ? await openAdapter(home, from.adapterId) : await openRun(home, from.runId);
  try {
    // Full fine-tuning changed the private copy's weights, so "base" must come from the cached, untouched model.
    if (getMethod(session.method).trainsBaseWeights) {
      const base = (await getModel(session.basePath)).loaded;
      const tunedRows = await baseVsTuned(session.loaded.model, tokenizerOf(session), session.attached.adapter.hooks, prompts, { maxNewTokens });
      const baseRows = await baseVsTuned(base.model, tokenizerOf(session), {}, prompts, { maxNewTokens });
      return prompts.map((prompt, i) => ({ prompt, base: baseRows[i].base, tuned: tunedRows[i].tuned }));
    }
    return await baseVsTuned(session.loaded.model, tokenizerOf(session), session.attached.adapter.hooks, prompts, { maxNewTokens });
  } finally {
    session.release();
  }
}

/** Eval prompts of the run (its frozen eval split), the first `count`. */
export async function evalPrompts(manifest: RunManifest, count: number): Promise<string[]> {
  // A run scored on the user's test file (--eval-data) takes its prompts from there.
  const testFile = manifest.dataset.evalData;
  if (testFile) {
    const examples = await readEvalExamples(testFile.path, manifest.dataset.path);
    return examples
      .slice(0, count)
      .map((e) => e.prompt)
      .filter((p) => p.length > 0);
  }
  const examples = await readExamples(manifest.dataset.path);
  const byId = new Map(examples.map((e) => [e.id, e]));
  const ids = manifest.dataset.evalIds.length > 0 ? manifest.dataset.evalIds : manifest.dataset.trainIds;
  return ids
    .slice(0, count)
    .map((id) => byId.get(id)?.prompt)
    .filter((p): p is string => typeof p === 'string' && p.length > 0);
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The method's diagnostic on the run's eval prompts, with its newest checkpoint (or `initial`: untrained). */
export async function runDiagnostics(home: string, runId: string, texts: number, initial = false): Promise<RunDiagnostics> {
  const manifest = new RunsStore(home).read(runId);
  const diagnostics = getMethod(manifest.method).diagnostics;
  if (!diagnostics) {
    const having = allMethods()
      .filter((m) => m.diagnostics)
      .map((m) => m.label);
    throw new ApiError('unsupported', `the prefix diagnostics apply to ${having.join(' and ')} runs, not ${manifest.method}`, { field: 'runId' });
  }
  const prompts = await evalPrompts(manifest, texts);
  if (prompts.length === 0) throw new ApiError('not_found', 'the run has no eval prompts to measure on', { field: 'runId' });
  const session = await openRun(home, runId, initial);
  try {
    const tokenizer = tokenizerOf(session);
    const { model } = session.loaded;
    const profile = await diagnostics.measure(model, session.attached.adapter, tokenizer, prompts);
    return {
      runId,
      method: manifest.method,
      kind: diagnostics.kind,
      byLayer: profile.byLayer.map((row) => row.map(finite)),
      layerMeans: profile.layerMeans.map(finite),
      counts: profile.counts,
      ...(profile.prefixLength !== undefined ? { prefixLength: profile.prefixLength } : {}),
      texts: prompts.length,
    };
  } finally {
    session.release();
  }
}
