// What the Train view asks of a finished (or checkpointed) run: base-vs-tuned generations and the method's own
// diagnostic, when its definition has one (method.md §1: attention mass on the prefix for Prefix-Tuning; the
// memory's share of the attention output for Prefix-Tuning+). The adapter comes from the run's newest checkpoint.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunDiagnostics } from '@shared/contract/calls/training';
import { ApiError } from '@shared/errors';
import { baseVsTuned } from '../engine/eval/generation';
import type { LoadedModel } from '../engine/io/load-model';
import { allMethods, getMethod } from '../engine/methods/registry';
import { readExamples } from '../engine/train/sources';
import { attachWithState, loadBaseModel } from '../export/engine-session';
import { readStateDictFile } from '../registry/adapter-store';
import { ADAPTER_TENSORS_FILE } from '../registry/layout';
import { RunsStore } from '../registry/runs-store';
import type { RunManifest } from '@shared/contract/training';
import { getModel } from './model-service';

interface Session {
  manifest: RunManifest;
  loaded: LoadedModel;
  attached: ReturnType<typeof attachWithState>;
  release(): void;
}

/** The run's base model with the newest checkpoint's adapter attached; release() frees what it made. */
async function openRun(home: string, runId: string): Promise<Session> {
  const store = new RunsStore(home);
  const manifest = store.read(runId);
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
    manifest,
    loaded,
    attached,
    release: () => {
      attached.adapter.dispose();
      if (isPrivate) loaded.dispose();
    },
  };
}

function tokenizerOf(session: Session) {
  const tokenizer = session.loaded.tokenizer;
  if (!tokenizer) throw new ApiError('unsupported', 'the base model has no tokenizer', { file: session.manifest.baseModel.path });
  return tokenizer;
}

/** Greedy continuations by the base model and by the adapted model. */
export async function generateBaseVsTuned(home: string, runId: string, prompts: string[], maxNewTokens: number): Promise<{ prompt: string; base: string; tuned: string }[]> {
  const session = await openRun(home, runId);
  try {
    // Full fine-tuning changed the private copy's weights, so "base" must come from the cached, untouched model.
    if (getMethod(session.manifest.method).trainsBaseWeights) {
      const base = (await getModel(session.manifest.baseModel.path)).loaded;
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
  const examples = await readExamples(manifest.dataset.path);
  const byId = new Map(examples.map((e) => [e.id, e]));
  const ids = manifest.dataset.evalIds.length > 0 ? manifest.dataset.evalIds : manifest.dataset.trainIds;
  return ids
    .slice(0, count)
    .map((id) => byId.get(id)?.prompt)
    .filter((p): p is string => typeof p === 'string' && p.length > 0);
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

export async function runDiagnostics(home: string, runId: string, texts: number): Promise<RunDiagnostics> {
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
  const session = await openRun(home, runId);
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
