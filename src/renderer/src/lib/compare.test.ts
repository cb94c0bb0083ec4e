import { describe, expect, it } from 'vitest';
import type { RunSummary } from '@shared/contract';
import { bestPerColumn, diffConfigs, sampleStd, summariseByMethod } from './compare';

function run(method: string, seed: number, accuracy: number | null, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    version: 1,
    runId: `${method}-${seed}`,
    status: 'finished',
    method: method as RunSummary['method'],
    methodOptions: { rank: 8 },
    trainer: { batchSize: 4 },
    learningRate: 0.001,
    seed,
    backend: 'cpu',
    appVersion: '0',
    pid: 1,
    hostname: 'h',
    startedAt: '2026-01-01T00:00:00Z',
    baseModel: { path: '/m', architecture: 'llama', parameters: 100, files: [] },
    dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainCount: 10, evalCount: 2 },
    trainableParams: method === 'lora' ? 800 : 200,
    totalSteps: 4,
    step: 4,
    checkpoints: [],
    final: { trainLoss: 1, evalLoss: 2 - (accuracy ?? 0), accuracy, perClassAccuracy: null, labels: null, confusion: null, exactMatch: null, evalExamples: 2 },
    result: { tokensPerSecond: method === 'lora' ? 400 : 1000, peakMemoryBytes: 1e6 * seed + 5e6, peakRssBytes: 1, wallSeconds: 3, tokensSeen: 10 },
    ...extra,
  };
}

describe('comparison results', () => {
  it('averages accuracy over seeds with the sample standard deviation', () => {
    const rows = summariseByMethod([run('ptplus', 0, 0.8), run('ptplus', 1, 0.9), run('lora', 0, 0.7)], ['ptplus', 'lora']);
    expect(rows[0].accuracyMean).toBeCloseTo(0.85);
    expect(rows[0].accuracyStd).toBeCloseTo(Math.sqrt(0.005));
    expect(rows[1].accuracyStd).toBe(0);
    expect(rows[0].peakMemoryBytes).toBe(6e6);
    expect(sampleStd([])).toBeNull();
  });

  it('leaves unfinished runs out of the means but counts them', () => {
    const rows = summariseByMethod([run('ptplus', 0, 0.8), run('ptplus', 1, null, { status: 'cancelled' })], ['ptplus']);
    expect(rows[0]).toMatchObject({ runs: 2, finished: 1, accuracyMean: 0.8 });
  });

  it('marks the best method per column in the right direction, ties included', () => {
    const rows = summariseByMethod([run('ptplus', 0, 0.8), run('lora', 0, 0.8)], ['ptplus', 'lora']);
    const best = bestPerColumn(rows);
    expect([...best.accuracyMean].sort()).toEqual(['lora', 'ptplus']);
    expect([...best.trainableParams]).toEqual(['ptplus']);
    expect([...best.tokensPerSecond]).toEqual(['ptplus']);
    expect(bestPerColumn(rows.slice(0, 1)).accuracyMean.size).toBe(0);
  });

  it('lists only the settings two runs differ in', () => {
    const diff = diffConfigs(run('ptplus', 0, 0.8, { methodOptions: { featureMap: 'elu' } }), run('lora', 1, 0.7));
    const keys = diff.map((d) => d.key);
    expect(keys).toContain('method');
    expect(keys).toContain('seed');
    expect(keys).toContain('options.featureMap');
    expect(keys).toContain('options.rank');
    expect(keys).not.toContain('trainer.batchSize');
    expect(diff.find((d) => d.key === 'options.rank')).toEqual({ key: 'options.rank', left: '—', right: '8' });
  });
});
