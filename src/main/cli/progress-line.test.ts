// The CLI's live progress line (`prefixlab train` / `compare`): the eval split's metrics, and the test file's
// (`--eval-data`) beside them, labelled apart, at the steps that evaluated.
import { describe, expect, it } from 'vitest';
import type { TrainProgress } from '@shared/contract/training';
import { describeProgress } from './progress-line';

const point = (extra: Partial<TrainProgress> = {}): TrainProgress => ({
  runId: 'r',
  step: 4,
  totalSteps: 8,
  epoch: 1,
  trainLoss: 0.5,
  learningRate: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 1200,
  tokensSeen: 100,
  etaSeconds: 65,
  memory: { numTensors: 1, numBytes: 1, rssBytes: 1 },
  ...extra,
});

describe('describeProgress', () => {
  it('a step without evaluation: loss, speed and ETA only', () => {
    expect(describeProgress(point())).toBe('[############............] 4/8 loss 0.5000 · 1200 tok/s · ETA 1m05s');
  });

  it('an evaluated step with a test file shows both, labelled eval and test', () => {
    const line = describeProgress(point({ evalLoss: 0.7, evalAccuracy: 0.75, testLoss: 0.8125, testAccuracy: 0.625 }));
    expect(line).toBe('[############............] 4/8 loss 0.5000 eval 0.7000 acc 75.0% · test 0.8125 acc 62.5% · 1200 tok/s · ETA 1m05s');
  });

  it('nothing held out (the eval metrics are the test file’s): shown once, as test', () => {
    const line = describeProgress(point({ evalLoss: 0.8125, evalAccuracy: 0.625, testLoss: 0.8125, testAccuracy: 0.625 }), 'lora seed 1 ');
    expect(line).toBe('lora seed 1 [############............] 4/8 loss 0.5000 · test 0.8125 acc 62.5% · 1200 tok/s · ETA 1m05s');
  });
});
