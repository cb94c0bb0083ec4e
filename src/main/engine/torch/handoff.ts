// The torch engine's hand-off (docs: python/prefixlab_torch/README.md): one folder that says everything
// `python -m prefixlab_torch.train` needs to train a RunSpec exactly as our engine would — the run spec, the
// model's path, the examples as OUR encoder writes them (templating, tokenisation, truncation, EOS, split), OUR
// trainer's batch plan (so Python never replicates our generator), the learning rate of every step and the
// method's initial tensors at the run's seed (after its preparation, e.g. PT+'s data-mean centring).
// The set-up mirrors engine/train/job.ts prepare() for a new run; the parity test
// (python/tests/test_torch_engine.py) checks the two engines give the same losses from it.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { RunSpec } from '@shared/run-spec';
import { trainerOptions } from '@shared/trainer-options';
import { examplesOf, splitIdsOf } from '../train/run-split';
import { writeFileAtomic, writeJsonAtomic } from '../../platform/atomic-write';
import { deriveSeed, SEED_PURPOSES } from '../../platform/derive-seed';
import { Rng } from '../../platform/rng';
import { loadModel } from '../io/load-model';
import { writeSafetensors, type F32Tensor } from '../io/safetensors';
import type { StateDict } from '../methods/method';
import { getMethod, virtualTokensOf } from '../methods/registry';
import { batchesPerEpoch, planEpoch } from '../train/batches';
import { parseOptions, resolvedEvalEvery, resolvedWarmup } from '../train/config';
import { encodeExample, type EncodedExample } from '../train/encode';
import { planSteps } from '../train/job';
import { parseRunSpec } from '../train/run-spec';
import { lrAt } from '../train/schedule';
import { labelVerbalisations } from '../eval/classify';
import { readEvalExamples, readExamples, type Example } from '../train/sources';
import type { TextTokenizer } from '../io/tokenizer';

/** What writeTorchHandoff wrote (for the caller's log and tests). */
export interface TorchHandoff {
  dir: string;
  totalSteps: number;
  trainExamples: number;
  evalExamples: number;
  testExamples: number;
  learningRate: number;
  trainableTensors: string[];
}

/** labels in Hugging Face's convention (aligned with the ids, shifted by the model): the id where it is a target, else -100. */
export function handoffLabels(example: Pick<EncodedExample, 'ids' | 'targetStart'>): number[] {
  return example.ids.map((id, t) => (t >= Math.max(1, example.targetStart) ? id : -100));
}

/**
 * Our trainer's batch plan for `totalSteps` steps: per step, `gradAccumulation` micro-batches of example indices
 * (into the encoded training examples), drawn exactly as trainer.ts nextBatch() does.
 */
export function planBatches(
  examples: readonly EncodedExample[],
  plan: { batchSize: number; batchTokens: number | null; gradAccumulation: number; seed: number },
  totalSteps: number,
): number[][][] {
  const rng = Rng.fromSeed(deriveSeed(plan.seed, SEED_PURPOSES.dataOrder));
  let order = planEpoch(examples, plan, rng);
  let cursor = 0;
  const steps: number[][][] = [];
  for (let s = 0; s < totalSteps; s++) {
    const micro: number[][] = [];
    for (let i = 0; i < plan.gradAccumulation; i++) {
      if (cursor >= order.length) {
        order = planEpoch(examples, plan, rng);
        cursor = 0;
      }
      micro.push([...order[cursor++]]);
    }
    steps.push(micro);
  }
  return steps;
}

/**
 * classify.ts evaluateExamples' sequences for `examples`: each distinct (example, continuation) once — the example's
 * own target, and with classification every label's verbalisation; sequence numbers start at `offset`.
 */
export function scoringPlan(
  examples: readonly Example[],
  verbalisations: Record<string, string>,
  encode: (example: Example, target: string) => EncodedExample,
  offset = 0,
): { sequences: EncodedExample[]; rows: { own: number; candidates: number[]; truth?: number }[]; labels: string[]; classification: boolean } {
  const labels = Object.keys(verbalisations);
  const classification = labels.length >= 2 && examples.length > 0 && examples.every((e) => e.label !== undefined && Object.hasOwn(verbalisations, e.label));
  const sequences: EncodedExample[] = [];
  const seen = new Map<string, number>();
  const pair = (i: number, continuation: string): number => {
    const key = `${i}\u0000${continuation}`;
    let index = seen.get(key);
    if (index === undefined) {
      index = offset + sequences.length;
      sequences.push(encode(examples[i], continuation));
      seen.set(key, index);
    }
    return index;
  };
  const rows: { own: number; candidates: number[]; truth?: number }[] = examples.map((e, i) => ({ own: pair(i, e.target), candidates: [] }));
  if (classification) {
    examples.forEach((e, i) => {
      rows[i].candidates = labels.map((label) => pair(i, verbalisations[label]));
      rows[i].truth = labels.indexOf(e.label as string);
    });
  }
  return { sequences, rows, labels, classification };
}

/**
 * What engine/eval/generation.ts exactMatch() generates for `scored` (in order): each prompt encoded as its
 * greedy() encodes it (special tokens included), and its number of new tokens: the longest target's token count
 * + 2, capped as generate.ts caps it by the context left after the longest prompt of its batch (`batchSize`
 * prompts at a time, in order).
 */
export function generationPlan(
  tokenizer: Pick<TextTokenizer, 'encode'>,
  scored: readonly Pick<Example, 'prompt' | 'target'>[],
  batchSize: number,
  maxPositions: number,
): { promptIds: number[]; maxNewTokens: number }[] {
  const longest = Math.max(1, ...scored.map((e) => tokenizer.encode(e.target, { addSpecialTokens: false }).length));
  const prompts = scored.map((e) => tokenizer.encode(e.prompt));
  return prompts.map((promptIds, i) => {
    const start = i - (i % batchSize);
    const promptLen = Math.max(...prompts.slice(start, start + batchSize).map((p) => p.length));
    return { promptIds, maxNewTokens: Math.max(0, Math.min(longest + 2, maxPositions - promptLen)) };
  });
}

/** Writes the hand-off of a new run of `input` into `dir` (created; files written atomically). */
export async function writeTorchHandoff(input: RunSpec, dir: string, log?: (message: string) => void): Promise<TorchHandoff> {
  const runSpec = parseRunSpec(input);
  const definition = getMethod(runSpec.method.name);
  const methodOptions = parseOptions(definition.options, runSpec.method.options, runSpec.method.name) as Record<string, unknown>;
  const options = parseOptions(trainerOptions, { ...runSpec.trainer, splitSeed: runSpec.data.split.seed }, 'trainer');
  const modelPath = resolve(runSpec.model.path);
  const dataPath = resolve(runSpec.data.path);
  if (!existsSync(modelPath)) throw new ApiError('not_found', 'base model does not exist', { file: modelPath });
  if (!existsSync(dataPath)) throw new ApiError('not_found', 'dataset does not exist', { file: dataPath });

  // Split and encoding: the same calls as job.ts prepare().
  const examples = await readExamples(dataPath);
  const seed = runSpec.seed;
  const splitSpec = runSpec.data.split;
  const split = splitIdsOf(examples, splitSpec, options.splitSeed, seed);
  const trainExamples = examplesOf(examples, split.trainIds, dataPath);
  const evalExamples = examplesOf(examples, split.evalIds, dataPath).slice(0, options.maxEvalExamples);
  const testExamples = runSpec.data.evalPath ? (await readEvalExamples(resolve(runSpec.data.evalPath), dataPath)).slice(0, options.maxEvalExamples) : [];

  const loaded = await loadModel(modelPath);
  try {
    const tokenizer = loaded.tokenizer;
    if (!tokenizer) throw new ApiError('unsupported', 'the model has no tokenizer; training needs one to encode text', { file: modelPath });
    if (loaded.format === 'llama2c') throw new ApiError('unsupported', 'the torch engine loads Hugging Face folders and GGUF files, not llama2.c .bin', { file: modelPath });
    const config = loaded.model.config;
    const virtualTokens = virtualTokensOf(runSpec.method.name, methodOptions).count;
    const maxLength = Math.min(options.maxLength, config.maxPositions - virtualTokens);
    if (maxLength < 2)
      throw new ApiError('invalid_argument', `numVirtualTokens ${virtualTokens} leaves no room in the model's ${config.maxPositions}-token context`, { field: 'numVirtualTokens' });
    const padId = config.padTokenId ?? tokenizer.eosTokenId ?? 0;
    const encodeOpts = { maxLength, addEos: options.addEos };
    const encoded = trainExamples.map((e, i) => encodeExample(tokenizer, e, i, encodeOpts));
    const empty = encoded.find((e) => e.targetStart >= e.ids.length);
    if (empty) throw new ApiError('invalid_argument', `example ${trainExamples[empty.index].id} has an empty target; nothing to train on`, { field: 'target' });

    const totalSteps = planSteps(runSpec.trainer, encoded, options);
    const learningRate = runSpec.trainer.learningRate ?? definition.defaultLearningRate;
    const schedule = { kind: options.schedule, peakLr: learningRate, totalSteps, warmupSteps: resolvedWarmup(options, totalSteps), minLrRatio: options.minLrRatio };

    // The method at the run's seed, prepared as a new run is (PT+'s φ mean) — its tensors are the torch run's start.
    const adapter = definition.attach(loaded.model, methodOptions as never, { seed, encode: (text) => tokenizer.encode(text, { addSpecialTokens: false }), warn: log });
    let state: StateDict;
    let trainable: string[];
    let noDecay: string[];
    try {
      await definition.prepare?.(adapter, { model: loaded.model, examples: encoded, padId, log });
      state = adapter.stateDict();
      // Variables are named `<method><n>/<state-dict name>` (methods/common.ts variableScope).
      const unscoped = (name: string): string => name.slice(name.indexOf('/') + 1);
      trainable = adapter.trainableVariables().map((v) => unscoped(v.name));
      // AdamW (train/adamw.ts) decays tensors of rank > 1 that the adapter does not exempt.
      const exempt = new Set([...(adapter.noDecayVariableNames?.() ?? [])].map(unscoped));
      noDecay = trainable.filter((name) => state[name].shape.length <= 1 || exempt.has(name));
    } finally {
      adapter.dispose();
    }

    mkdirSync(dir, { recursive: true });
    const tensors: Record<string, F32Tensor> = {};
    for (const [name, t] of Object.entries(state)) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    const tmp = join(dir, `.init.safetensors.${process.pid}.tmp`);
    writeSafetensors(tmp, tensors, { format: 'pt', method: runSpec.method.name });
    renameSync(tmp, join(dir, 'init.safetensors'));

    const line = (split: string, e: Example, enc: EncodedExample, generation?: { promptIds: number[]; maxNewTokens: number }) =>
      JSON.stringify({ index: enc.index, id: e.id, split, inputIds: enc.ids, labels: handoffLabels(enc), ...(e.label !== undefined ? { label: e.label } : {}), ...generation });
    // evalGenerate: what generation.ts exactMatch() generates from, per eval/test example.
    const generationOf = (scored: Example[]) => generationPlan(tokenizer, scored, options.evalBatchSize, config.maxPositions);
    const evalGeneration = generationOf(evalExamples);
    const testGeneration = generationOf(testExamples);
    const lines = [
      ...encoded.map((enc, i) => line('train', trainExamples[i], enc)),
      ...evalExamples.map((e, i) => line('eval', e, encodeExample(tokenizer, e, i, encodeOpts), evalGeneration[i])),
      ...testExamples.map((e, i) => line('test', e, encodeExample(tokenizer, e, i, encodeOpts), testGeneration[i])),
    ];
    await writeFileAtomic(join(dir, 'examples.jsonl'), lines.join('\n') + '\n');
    // What classify.ts scores: the eval split against the labels of train + eval, the test file against those plus its own.
    const sequences: EncodedExample[] = [];
    const scoring: string[] = [];
    const labelsBySplit: Record<string, { labels: string[]; classification: boolean }> = {};
    const plans: [string, Example[], Example[]][] = [
      ['eval', evalExamples, [...trainExamples, ...examplesOf(examples, split.evalIds, dataPath)]],
      ['test', testExamples, [...trainExamples, ...examplesOf(examples, split.evalIds, dataPath), ...testExamples]],
    ];
    for (const [name, scored, labelled] of plans) {
      if (scored.length === 0) continue;
      // scoreLabels off (job.ts makeEvaluator): the examples' own targets only, no label candidates.
      const verbalisations = (options as { scoreLabels?: boolean }).scoreLabels === false ? {} : labelVerbalisations(labelled);
      const plan = scoringPlan(scored, verbalisations, (e, target) => encodeExample(tokenizer, { prompt: e.prompt, target, label: e.label }, 0, encodeOpts), sequences.length);
      sequences.push(...plan.sequences);
      labelsBySplit[name] = { labels: plan.labels, classification: plan.classification };
      plan.rows.forEach((row, index) => scoring.push(JSON.stringify({ index, split: name, ...row })));
    }
    await writeFileAtomic(join(dir, 'scoring.jsonl'), scoring.length ? scoring.join('\n') + '\n' : '');
    await writeFileAtomic(
      join(dir, 'scoring-sequences.jsonl'),
      sequences.length ? sequences.map((e) => JSON.stringify({ inputIds: e.ids, labels: handoffLabels(e) })).join('\n') + '\n' : '',
    );
    await writeJsonAtomic(join(dir, 'labels.json'), labelsBySplit);
    await writeJsonAtomic(join(dir, 'runspec.json'), { ...runSpec, engine: 'torch' });
    await writeJsonAtomic(join(dir, 'model.json'), { path: modelPath, format: loaded.format, architecture: config.architecture, dtype: 'float32', padTokenId: padId });
    await writeJsonAtomic(join(dir, 'batches.json'), { steps: planBatches(encoded, { ...options, seed }, totalSteps), batchesPerEpoch: batchesPerEpoch(encoded, options) });
    await writeJsonAtomic(join(dir, 'schedule.json'), {
      learningRates: Array.from({ length: totalSteps }, (_, s) => lrAt(schedule, s)),
      peakLr: learningRate,
      warmupSteps: schedule.warmupSteps,
      evalEvery: resolvedEvalEvery(options, totalSteps),
    });
    // What the trainer resolved beyond the spec: the plan Python follows (it asserts its own schedule agrees).
    // eosTokenIds: where a greedy generation stops (generation.ts: the tokenizer's EOS and the model config's).
    const eosTokenIds = [...new Set([...(tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : []), ...config.eosTokenIds])];
    await writeJsonAtomic(join(dir, 'plan.json'), { ...options, maxLength, learningRate, totalSteps, seed, methodOptions, trainable, noDecay, padId, eosTokenIds });
    return {
      dir,
      totalSteps,
      trainExamples: encoded.length,
      evalExamples: evalExamples.length,
      testExamples: testExamples.length,
      learningRate,
      trainableTensors: trainable,
    };
  } finally {
    loaded.dispose();
  }
}
