// Classification by label likelihood: every label's verbalisation is scored as a continuation of the
// example's prompt, and the label with the highest MEAN LOG-PROBABILITY PER TOKEN of its verbalisation wins
// (per-token mean, so multi-token labels are not penalised for their length; ties go to the label listed
// first). Gives accuracy, per-class accuracy and the confusion matrix, plus the eval loss of the examples'
// own targets from the same forward passes.
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import type { TextTokenizer } from '../io/tokenizer';
import { encodeExample, type EncodedExample } from '../train/encode';
import { meanNll, scoreSequences } from './score';

export interface EvalExample {
  id: string;
  prompt: string;
  target: string;
  label?: string;
}

export interface ClassificationReport {
  accuracy: number;
  /** label → accuracy over the examples whose true label it is (labels without examples are absent). */
  perClassAccuracy: Record<string, number>;
  /** Row = true label, column = predicted, in `labels` order. */
  labels: string[];
  confusion: number[][];
  predictions: { id: string; label: string; predicted: string; scores: number[] }[];
}

export interface EvalReport {
  /** Mean NLL per target token of the examples' own targets. */
  evalLoss: number;
  /** Present when every example has a label and there are at least two labels. */
  classification: ClassificationReport | null;
  examples: number;
}

export interface EvalOptions {
  hooks?: ModelHooks;
  maxLength: number;
  addEos: boolean;
  batchSize: number;
  padId: number;
  /** label → verbalisation (the target text that stands for it). Default: labelVerbalisations(examples). */
  verbalisations?: Record<string, string>;
  signal?: AbortSignal;
}

/** label → the target text most often paired with it (ties: first seen), labels in first-seen order. */
export function labelVerbalisations(examples: readonly EvalExample[]): Record<string, string> {
  const counts = new Map<string, Map<string, number>>();
  for (const e of examples) {
    if (e.label === undefined) continue;
    const perLabel = counts.get(e.label) ?? new Map<string, number>();
    perLabel.set(e.target, (perLabel.get(e.target) ?? 0) + 1);
    counts.set(e.label, perLabel);
  }
  const out: Record<string, string> = {};
  for (const [label, targets] of counts) {
    let best = '';
    let bestCount = -1;
    for (const [target, count] of targets) {
      if (count > bestCount) {
        best = target;
        bestCount = count;
      }
    }
    out[label] = best;
  }
  return out;
}

/**
 * Eval loss and (for labelled data) label-likelihood classification in one batched pass: each distinct
 * (example, continuation) pair is scored once.
 */
export async function evaluateExamples(model: CausalLM, tokenizer: TextTokenizer, examples: readonly EvalExample[], opts: EvalOptions): Promise<EvalReport> {
  const verbalisations = opts.verbalisations ?? labelVerbalisations(examples);
  const labels = Object.keys(verbalisations);
  const isClassification = labels.length >= 2 && examples.length > 0 && examples.every((e) => e.label !== undefined && Object.hasOwn(verbalisations, e.label));
  const sequences: EncodedExample[] = [];
  const pairIndex = new Map<string, number>();
  const pair = (exampleIndex: number, continuation: string): number => {
    const key = `${exampleIndex}\u0000${continuation}`;
    let index = pairIndex.get(key);
    if (index === undefined) {
      index = sequences.length;
      const { prompt, label } = examples[exampleIndex];
      sequences.push(encodeExample(tokenizer, { prompt, target: continuation, label }, exampleIndex, { maxLength: opts.maxLength, addEos: opts.addEos }));
      pairIndex.set(key, index);
    }
    return index;
  };
  const ownTargets = examples.map((e, i) => pair(i, e.target));
  const candidates = isClassification ? examples.map((_, i) => labels.map((label) => pair(i, verbalisations[label]))) : [];
  const scores = await scoreSequences(model, sequences, { hooks: opts.hooks, batchSize: opts.batchSize, padId: opts.padId, signal: opts.signal });
  const evalLoss = meanNll(ownTargets.map((i) => scores[i]));
  if (!isClassification) return { evalLoss, classification: null, examples: examples.length };

  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const confusion = labels.map(() => labels.map(() => 0));
  const predictions: ClassificationReport['predictions'] = [];
  let correct = 0;
  examples.forEach((example, i) => {
    const meanLogProbs = candidates[i].map((s) => (scores[s].tokens ? scores[s].sumLogProb / scores[s].tokens : -Infinity));
    let best = 0;
    for (let c = 1; c < meanLogProbs.length; c++) if (meanLogProbs[c] > meanLogProbs[best]) best = c;
    const truth = labelIndex.get(example.label as string) as number;
    confusion[truth][best] += 1;
    if (best === truth) correct += 1;
    predictions.push({ id: example.id, label: example.label as string, predicted: labels[best], scores: meanLogProbs });
  });
  const perClassAccuracy: Record<string, number> = {};
  labels.forEach((label, row) => {
    const total = confusion[row].reduce((a, b) => a + b, 0);
    if (total > 0) perClassAccuracy[label] = confusion[row][row] / total;
  });
  return {
    evalLoss,
    classification: { accuracy: correct / examples.length, perClassAccuracy, labels, confusion, predictions },
    examples: examples.length,
  };
}
