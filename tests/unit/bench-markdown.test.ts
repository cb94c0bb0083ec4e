// `npm run bench -- markdown`: docs/performance.md's tables come from the benchmark JSON, so the renderer
// must pick the right table per file, compute the PyTorch ratio, and list the rows that could not run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../bench/markdown';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-bench-md-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, json: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(json));
  return path;
}

const machine = { cpu: 'AMD EPYC', cores: 2, node: '20.20.2', tfjs: '4.22.0', date: '2026-11-25T13:05:14.117Z' };

describe('bench markdown', () => {
  it('renders training rows with the ratio to PyTorch and lists the rows that were not measured', () => {
    const train = file('train.json', {
      machine,
      threads: 1,
      rows: [
        {
          shape: 'tiny-4x256',
          backend: 'wasm',
          seqLen: 64,
          method: 'lora',
          msPerStep: 356.2,
          tokensPerSecond: 1438,
          peakTensorBytes: 228.6 * 2 ** 20,
          trainableParams: 32768,
          reference: { tokensPerSecond: 3951, msPerStep: 129.6 },
        },
      ],
      failed: [{ shape: 'smollm-135m', backend: 'wasm', seqLen: 64, method: 'lora', error: 'the wasm backend aborted' }],
    });
    const md = renderMarkdown([train]);
    expect(md).toContain('<!-- ' + train + ': AMD EPYC, 2 cores, Node 20.20.2, tfjs 4.22.0, 2026-11-25 13:05 UTC, 1 thread(s) -->');
    expect(md).toContain('| tiny-4x256 | wasm | 64 | lora | 356.2 | 1,438 | 129.6 | 3,951 | **0.36** | 228.6 | 32,768 |');
    expect(md).toContain('Not measured: smollm-135m, wasm, T = 64, lora: the wasm backend aborted');
  });

  it("puts real-model rows in their own table with the quantized-base mode and both sides' memory", () => {
    const train = file('train-real.json', {
      machine,
      threads: 1,
      rows: [
        { shape: 'tiny-4x256', backend: 'tensorflow', seqLen: 64, method: 'lora', msPerStep: 139, tokensPerSecond: 3689, peakTensorBytes: 2 ** 20, trainableParams: 8 },
        {
          shape: 'gemma3-270m',
          backend: 'tensorflow',
          seqLen: 64,
          method: 'lora',
          quantizedBase: true,
          msPerStep: 2000,
          tokensPerSecond: 256,
          peakRssBytes: 1024 * 2 ** 20,
          processMaxRssBytes: 1536 * 2 ** 20,
          reference: { tokensPerSecond: 320, msPerStep: 1600, peakRssBytes: 2048 * 2 ** 20, processMaxRssBytes: 3072 * 2 ** 20 },
        },
      ],
    });
    const md = renderMarkdown([train]);
    expect(md).toContain('| tiny-4x256 | tensorflow | 64 | lora | 139.0 | 3,689 | — | — | — | 1.0 | 8 |');
    expect(md).toContain('| gemma3-270m | tensorflow | 64 | lora | on | 2,000.0 | 256 | 1,600.0 | **0.80** | 1,024.0 | 2,048.0 | 1,536.0 | 3,072.0 |');
    expect(md).not.toMatch(/\| gemma3-270m \| tensorflow \| 64 \| lora \| 2,000/);
  });

  it('renders a --data-parallel 1,2 run with each repeat, the gain over one process and the step split', () => {
    const base = { shape: 'smollm2-135m', backend: 'tensorflow', seqLen: 64, method: 'lora', quantizedBase: false, tokensPerSecond: 0 };
    const parallel = file('train-dp.json', {
      machine,
      threads: 1,
      dataParallel: [1, 2],
      rows: [
        { ...base, msPerStep: 4866.4, runsMs: [4479.2, 4866.4, 4991.9] },
        {
          ...base,
          msPerStep: 3027.1,
          runsMs: [3057.3, 2913.2, 3027.1],
          dataParallel: 2,
          overOneProcess: 4866.4 / 3027.1,
          replicaTimes: { ownMs: 2866.2, waitMs: 25.9, replicaMs: 2983.4, sumMs: 7.6 },
        },
      ],
    });
    const md = renderMarkdown([parallel]);
    expect(md).toContain('| smollm2-135m | tensorflow | 64 | lora | 1 | 4,866 | 4,479 · 4,866 · 4,992 | — | — | — | — |');
    expect(md).toContain('| smollm2-135m | tensorflow | 64 | lora | 2 | 3,027 | 3,057 · 2,913 · 3,027 | **1.61** | 2,866 · 26 · 2,983 · 8 | — | — |');
  });

  it('tells scaling, generation and leak files apart by their fields', () => {
    const scaling = file('scaling.json', {
      machine,
      scaling: [{ shape: 's', backend: 'cpu', method: 'prefix', options: { numVirtualTokens: 16 }, msPerStep: 10, peakTensorBytes: 2 ** 20 }],
    });
    const generate = file('generate.json', {
      machine,
      rows: [
        {
          model: 'm',
          backend: 'wasm',
          promptTokens: 32,
          newTokens: 32,
          promptTokensPerSecond: 884,
          generatedTokensPerSecond: 260.6,
          peakTensorBytes: 2 ** 20,
          reference: { tokensPerSecond: 524.8 },
        },
      ],
    });
    const leak = file('leak.json', {
      machine,
      rows: [
        {
          shape: 's',
          backend: 'wasm',
          method: 'lora',
          steps: 1000,
          msPerStep: 96,
          tensors: [143, 143, 143],
          tensorBytes: [2 ** 21, 2 ** 21, 2 ** 21],
          rssBytes: [251 * 2 ** 20, 258 * 2 ** 20, 259 * 2 ** 20],
          losses: { first: 18.052, last: 6.369 },
        },
      ],
    });
    const [s, g, l] = renderMarkdown([scaling, generate, leak]).split('\n\n');
    expect(s).toContain('| s | cpu | prefix | 16 | 10.0 | 1.0 |');
    expect(g).toContain('| m | wasm | 32 | 32 | 884 | 260.6 | 524.8 | 0.50 | 1.0 |');
    expect(l).toContain('| s | wasm | lora | 1,000 | 96.0 | 143 → 143 → 143 | 2.0 → 2.0 | 251 → 258 → 259 | 18.052 → 6.369 |');
  });
});
