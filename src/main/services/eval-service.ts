// `prefixlab eval`: scores a model (optionally with an adapter) on a dataset file with the code training evaluates
// with — engine/eval's evaluateExamples (eval loss and label-likelihood classification) and exactMatch (greedy
// generation) — and the settings a run evaluates with (maxLength, addEos, evalBatchSize: the adapter's run's,
// else the trainer defaults), so `eval` on a run's own eval split reproduces its `final` block. Rows are read as
// training reads them (datasets/load-examples.ts); `split` narrows them to the eval ids of a run's frozen split or
// of a split file, and labels are then verbalised from that split's train and eval rows, as the training job does.
// Given a run's adapter and that run's own test file (`--eval-data`, same sha256), the file is read and scored as the
// run scored it (the training data's mapping, labels from train, eval and test rows, the run's settings), so `eval`
// reproduces its `finalTest` block too.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Example, TaskKind } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { trainerOptions, type TrainerOptions } from '@shared/trainer-options';
import { evaluateExamples, labelVerbalisations } from '../engine/eval/classify';
import { exactMatch, type ExactMatchReport } from '../engine/eval/generation';
import { virtualTokensOf } from '../engine/methods/registry';
import { parseOptions } from '../engine/train/config';
import { datasetFingerprint, readExamples, sha256File, trainingReadOptions } from '../engine/train/sources';
import { loadExamples } from '../datasets/load-examples';
import { readSplitFile } from '../datasets/splits/split-file';
import { writeFileAtomic } from '../platform/atomic-write';
import { isValidId } from '../registry/layout';
import { RunsStore } from '../registry/runs-store';
import { resolveAdapter } from './adapter-session';
import { openModel, type BackendChoice } from './model-service';

export interface EvalRequest {
  /** The data folder (registry adapter and run ids). */
  home: string;
  model: string;
  /** Registry adapter or run id, PEFT folder or PT+ export (as `--adapter` on logits). */
  adapter?: string;
  data: string;
  /** How to read the file, as `data inspect` takes it. */
  task?: TaskKind;
  map?: Record<string, string>;
  /** Score only the eval ids of this split: a run id (its frozen split; the file must be its dataset) or a split file. */
  split?: string;
  /** Score the first N rows only (default: all; with a run's split, the run's maxEvalExamples as training does). */
  limit?: number;
  /** Also generate greedily for classification rows (always done for rows without labels, and with a run's split when the run did). */
  generate?: boolean;
  /**
   * false: no label-likelihood scoring (one scored sequence per label per row, 14–27× an evaluation's cost on
   * 14–27-label tasks); accuracy is then null and greedy exact match is computed instead. Default true.
   */
  labelScores?: boolean;
  /** One JSON line per row, written atomically. */
  out?: string;
  backend?: BackendChoice;
  signal?: AbortSignal;
}

export interface EvalRow {
  id: string;
  prompt: string;
  target: string;
  /** The predicted label (classification), else the greedy generation's first line. */
  prediction: string | null;
  correct: boolean | null;
  /** Classification: label → mean log-probability per token of its verbalisation; else null. */
  scores: Record<string, number> | null;
  label?: string;
  /** With generation on a classification row: the greedy continuation. */
  generated?: string;
}

export interface EvalResult {
  rows: number;
  accuracy: number | null;
  exactMatch: number | null;
  /** exp(evalLoss). */
  perplexity: number | null;
  /** Mean NLL per target token of the rows' own targets. */
  evalLoss: number | null;
  perClassAccuracy: Record<string, number> | null;
  /** Rows = true label, columns = predicted, in `labels` order. */
  confusion: number[][] | null;
  labels: string[] | null;
  /** The predictions file written (--out), else null. */
  out: string | null;
}

interface Selection {
  scored: Example[];
  /** The rows labels are verbalised from. */
  labelled: Example[];
  /** Evaluation settings of the run whose split (or test file) this is (if any). */
  trainer: Record<string, unknown> | null;
  /** A run's eval split or test file: scored as the run scored it (its maxEvalExamples, its evalGenerate). */
  isRunSplit: boolean;
}

/**
 * The run an adapter came from, when `data` is that run's test file (its sha256) and its training data is still
 * there: the training data's read options and train + eval rows (label candidates, as the job had them).
 */
async function runOfTestFile(
  req: EvalRequest,
  data: string,
): Promise<{ read: Awaited<ReturnType<typeof trainingReadOptions>>; trained: Example[]; trainer: Record<string, unknown> } | null> {
  if (req.adapter === undefined || req.split !== undefined || req.task !== undefined || (req.map && Object.keys(req.map).length)) return null;
  const runId = resolveAdapter(req.home, req.adapter).runId;
  if (!runId) return null;
  const run = new RunsStore(req.home).read(runId);
  const evalData = run.dataset.evalData;
  if (!evalData || !existsSync(run.dataset.path) || evalData.sha256 !== (await sha256File(data))) return null;
  if ((await datasetFingerprint(run.dataset.path)) !== run.dataset.sha256) return null;
  const byId = new Map((await readExamples(run.dataset.path)).map((e) => [e.id, e]));
  const trained = [...run.dataset.trainIds, ...run.dataset.evalIds].flatMap((id) => byId.get(id) ?? []);
  return { read: await trainingReadOptions(run.dataset.path), trained, trainer: run.trainer };
}

async function selectRows(req: EvalRequest, data: string, examples: Example[], ofRun: Awaited<ReturnType<typeof runOfTestFile>>): Promise<Selection> {
  if (ofRun) return { scored: examples, labelled: [...ofRun.trained, ...examples], trainer: ofRun.trainer, isRunSplit: true };
  if (req.split === undefined) return { scored: examples, labelled: examples, trainer: null, isRunSplit: false };
  const splitPath = resolve(req.split);
  let ids: { trainIds: readonly string[]; evalIds: readonly string[] };
  let trainer: Record<string, unknown> | null = null;
  let isRunSplit = false;
  if (existsSync(splitPath)) {
    ids = await readSplitFile(splitPath, '');
  } else if (isValidId(req.split)) {
    const run = new RunsStore(req.home).read(req.split);
    if (run.dataset.sha256 !== (await datasetFingerprint(data))) {
      throw new ApiError('conflict', `run ${req.split} was split from ${run.dataset.path}, not from this file (the sha256 differs)`, { file: data });
    }
    ids = run.dataset;
    trainer = run.trainer;
    isRunSplit = true;
  } else {
    throw new ApiError('not_found', 'no such split file', { file: splitPath });
  }
  const byId = new Map(examples.map((e) => [e.id, e]));
  const pick = (list: readonly string[]): Example[] =>
    list.map((id) => {
      const e = byId.get(id);
      if (!e) throw new ApiError('conflict', `row ${id} of the split is not in the dataset`, { file: data });
      return e;
    });
  const scored = pick(ids.evalIds);
  if (scored.length === 0) throw new ApiError('invalid_argument', 'the split has no eval rows', { field: 'split' });
  return { scored, labelled: [...pick(ids.trainIds), ...scored], trainer, isRunSplit };
}

function checkOut(out: string): string {
  const path = resolve(out);
  if (existsSync(path) && statSync(path).isDirectory()) throw new ApiError('invalid_argument', 'is a folder; give a file for the predictions', { file: path });
  if (!existsSync(dirname(path))) throw new ApiError('not_found', 'the folder for the predictions file does not exist', { file: dirname(path) });
  return path;
}

export async function evaluateFile(req: EvalRequest): Promise<EvalResult> {
  const data = resolve(req.data);
  const out = req.out !== undefined ? checkOut(req.out) : null;
  if (!existsSync(data)) throw new ApiError('not_found', 'dataset does not exist', { file: data });
  const ofRun = await runOfTestFile(req, data);
  const examples = await loadExamples(data, { read: ofRun?.read ?? { task: req.task, map: req.map } });
  if (examples.length === 0) throw new ApiError('bad_file', 'the dataset has no examples', { file: data });
  const selection = await selectRows(req, data, examples, ofRun);

  const session = await openModel(req.model, { adapter: req.adapter, home: req.home }, req.backend);
  try {
    const { loaded, hooks } = session;
    const tokenizer = loaded.tokenizer;
    if (!tokenizer) throw new ApiError('unsupported', 'the model has no tokenizer; evaluation needs one to encode text', { file: resolve(req.model) });
    // The settings the run evaluated with: its split's run, else the adapter's run, else the defaults.
    const options: TrainerOptions = parseOptions(trainerOptions, selection.trainer ?? session.adapter?.resolved.trainer ?? {}, 'trainer');
    const config = loaded.model.config;
    const virtualTokens = session.adapter ? virtualTokensOf(session.adapter.method, session.adapter.options).count : 0;
    const maxLength = Math.min(options.maxLength, config.maxPositions - virtualTokens);
    const limit = req.limit ?? (selection.isRunSplit ? options.maxEvalExamples : undefined);
    const scored = limit !== undefined ? selection.scored.slice(0, limit) : selection.scored;
    // A run that did not score labels (trainer.scoreLabels false) is reproduced without them too.
    const isWithoutLabels = (selection.isRunSplit && !options.scoreLabels) || req.labelScores === false;
    const report = await evaluateExamples(loaded.model, tokenizer, scored, {
      hooks,
      maxLength,
      addEos: options.addEos,
      batchSize: options.evalBatchSize,
      padId: config.padTokenId ?? tokenizer.eosTokenId ?? 0,
      verbalisations: isWithoutLabels ? {} : labelVerbalisations(selection.labelled),
      signal: req.signal,
    });
    const c = report.classification;
    const generated: ExactMatchReport | null =
      req.generate || req.labelScores === false || (!c && !isWithoutLabels) || (selection.isRunSplit && options.evalGenerate)
        ? await exactMatch(loaded.model, tokenizer, scored, { hooks, batchSize: options.evalBatchSize, signal: req.signal })
        : null;

    if (out) {
      const lines = scored.map((e, i) => JSON.stringify(rowOf(e, i, c, generated)) + '\n');
      await writeFileAtomic(out, lines.join(''));
    }
    const evalLoss = Number.isFinite(report.evalLoss) ? report.evalLoss : null;
    return {
      rows: scored.length,
      accuracy: c?.accuracy ?? null,
      exactMatch: generated?.exactMatch ?? null,
      perplexity: evalLoss === null ? null : Math.exp(evalLoss),
      evalLoss,
      perClassAccuracy: c?.perClassAccuracy ?? null,
      confusion: c?.confusion ?? null,
      labels: c?.labels ?? null,
      out,
    };
  } finally {
    session.release();
  }
}

function rowOf(e: Example, i: number, c: NonNullable<Awaited<ReturnType<typeof evaluateExamples>>['classification']> | null, generated: ExactMatchReport | null): EvalRow {
  const g = generated?.predictions[i];
  const row: EvalRow = { id: e.id, prompt: e.prompt, target: e.target, prediction: null, correct: null, scores: null };
  if (e.label !== undefined) row.label = e.label;
  const p = c?.predictions[i];
  if (c && p) {
    row.prediction = p.predicted;
    row.correct = p.predicted === p.label;
    row.scores = Object.fromEntries(c.labels.map((label, k) => [label, p.scores[k]]));
    if (g) row.generated = g.generated;
  } else if (g) {
    row.prediction = g.generated;
    row.correct = g.isMatch;
  }
  return row;
}
