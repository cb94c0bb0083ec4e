// Every registered method learns: on a tiny labelled set in TinyStories words (the weather word decides
// "happy" or "sad"), training on stories260K with the method's default learning rate brings the train loss
// below half its first value within a bounded number of steps. Each run stops as soon as it gets there.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { allMethods } from '../methods/registry';
import { runTrainJobFromFlags as runTrainJob } from '../../cli/testing/requests-from-flags';
import { hasStoriesHf, MemoryRecorder, storiesHf } from './test-fixtures';

const MAX_STEPS = 15;
const isAvailable = hasStoriesHf();
let home: string;
let data: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-proof-'));
  data = join(home, 'weather.jsonl');
  const rows = ['Lily', 'Tom', 'Sam'].flatMap((name) => [
    { prompt: `${name} saw the sun. ${name} was`, completion: ' happy', label: 'happy' },
    { prompt: `${name} saw the rain. ${name} was`, completion: ' sad', label: 'sad' },
  ]);
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!isAvailable)('each method reduces the training loss on stories260K', () => {
  for (const method of allMethods()) {
    it(`${method.name} halves the train loss within ${MAX_STEPS} steps at lr ${method.defaultLearningRate}`, async () => {
      const losses: number[] = [];
      const controller = new AbortController();
      const result = await runTrainJob(
        {
          home,
          model: storiesHf,
          data,
          method: method.name,
          steps: MAX_STEPS,
          seed: 0,
          evalSplit: 0,
          // One full batch per step, constant rate; dropout off so the curve is the method's, not the noise's.
          set: {
            'train.batchSize': '6',
            'train.schedule': 'constant',
            'train.warmupSteps': '0',
            'train.checkpointEvery': '0',
            ...(method.name === 'lora' ? { dropout: '0' } : {}),
          },
        },
        {
          recorder: new MemoryRecorder(join(home, 'runs')),
          signal: controller.signal,
          onProgress: (p) => {
            losses.push(p.trainLoss);
            if (p.trainLoss < losses[0] / 2) controller.abort();
          },
        },
      );
      expect(result.status).not.toBe('failed');
      expect(Math.min(...losses)).toBeLessThan(losses[0] / 2);
      expect(result.learningRate).toBe(method.defaultLearningRate);
    });
  }
});
