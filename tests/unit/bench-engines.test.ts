// `npm run bench -- train --engine torch,tfjs`: step times recovered from an engine's windowed metrics, the
// generated data's exact length, the JSON rows and their Markdown table; and a few real steps of both engines on
// stories260K (skipped without the repository's .venv).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineDatasetRows, runEngineBench, stepTimesFromMetrics, summariseMetrics, type EngineRow } from '../../bench/engine-bench';
import { renderMarkdown } from '../../bench/markdown';
import { loadTokenizer } from '../../src/main/engine/io/load-model';
import { encodeExample } from '../../src/main/engine/train/encode';
import { hasStoriesHf, storiesHf } from '../../src/main/engine/train/test-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-bench-engines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Metrics as both engines write them: tokensPerSecond over the last `window` steps. */
function metricsOf(ms: number[], tokens: number[], window = 10) {
  let seen = 0;
  return ms.map((_, i) => {
    seen += tokens[i];
    const from = Math.max(0, i + 1 - window);
    const wTokens = tokens.slice(from, i + 1).reduce((a, b) => a + b, 0);
    const wMs = ms.slice(from, i + 1).reduce((a, b) => a + b, 0);
    return { step: i + 1, tokensSeen: seen, tokensPerSecond: (wTokens / wMs) * 1000, trainLoss: 5 - i * 0.1 };
  });
}

describe('engine bench rows', () => {
  it('recovers every step time from the windowed tokens/s, past the window too', () => {
    const ms = [500, 420, 160, 150, 250, 151, 190, 170, 165, 180, 175, 400, 160, 158];
    const tokens = ms.map((_, i) => 512 - (i % 3));
    const got = stepTimesFromMetrics(metricsOf(ms, tokens));
    got.ms.forEach((v, i) => expect(v).toBeCloseTo(ms[i], 6));
    expect(got.tokens).toEqual(tokens);
  });

  it('drops the warm-up steps and reports the median step with its tokens/s', () => {
    const ms = [500, 420, 160, 150, 250, 151, 190];
    const s = summariseMetrics(
      metricsOf(
        ms,
        ms.map(() => 512),
      ),
    );
    expect(s.msPerStep).toBeCloseTo(160, 6); // median of 160, 150, 250, 151, 190
    expect(s.tokensPerSecond).toBeCloseTo(512 / 0.16, 3);
    expect(s.warmupSteps).toBe(2);
    expect(s.stepMs).toHaveLength(7);
  });

  it('refuses metrics that are not steps 1…N (a resumed run) in one line', () => {
    const points = metricsOf([100, 100, 100], [8, 8, 8]).slice(1);
    expect(() => stepTimesFromMetrics(points)).toThrow(/step 2 where step 1 was expected/);
  });

  it.skipIf(!hasStoriesHf())('writes data our encoder turns into exactly T tokens per example', async () => {
    const { tokenizer } = await loadTokenizer(storiesHf);
    const rows = engineDatasetRows(tokenizer!, 64, 6);
    rows.forEach((r, i) => {
      const e = encodeExample(tokenizer!, { prompt: r.prompt, target: r.completion }, i, { maxLength: 64, addEos: true });
      expect(e.ids).toHaveLength(64);
      // About half the row is the target.
      expect(64 - e.targetStart).toBeGreaterThanOrEqual(32);
      expect(64 - e.targetStart).toBeLessThan(48);
    });
  });

  it('renders both engines of a shape × T × method on one line with the ratio', () => {
    const row = (engine: 'tfjs' | 'torch', msPerStep: number, backend: string): EngineRow => ({
      engine,
      backend,
      shape: 'smollm2-135m',
      method: 'lora',
      seqLen: 64,
      batch: 8,
      threads: 1,
      msPerStep,
      tokensPerSecond: 512 / (msPerStep / 1000),
      stepMs: [],
      warmupSteps: 2,
      trainLoss: [],
    });
    const file = join(dir, 'engines.json');
    writeFileSync(
      file,
      JSON.stringify({
        threads: 1,
        rows: [row('tfjs', 200, 'tensorflow'), row('torch', 100, 'torch 2.5.1')],
        failed: [{ engine: 'torch', shape: 'gemma3-270m', method: 'lora', seqLen: 64, error: 'boom' }],
      }),
    );
    const md = renderMarkdown([file]);
    expect(md).toContain('| shape | T | method | threads | tfjs backend | tfjs ms/step | tfjs tok/s | torch engine | torch ms/step | torch tok/s | tfjs ÷ torch (tok/s) |');
    expect(md).toContain('| smollm2-135m | 64 | lora | 1 | tensorflow | 200.0 | 2,560 | torch 2.5.1 | 100.0 | 5,120 | **0.50** |');
    expect(md).toContain('Not measured: gemma3-270m, torch, T = 64, lora: boom');
  });
});

const venvPython = resolve(import.meta.dirname, '../../.venv/bin/python');
const noVenv = !existsSync(venvPython) ? `${venvPython} is absent (bash python/setup-venv.sh)` : !hasStoriesHf() ? 'stories260K is absent' : null;
if (noVenv) console.warn(`skipping the two-engine bench smoke: ${noVenv}`);

describe.skipIf(noVenv !== null)('engine bench smoke (stories260K, both engines)', () => {
  it('measures LoRA at T 32 on tfjs and torch from their own metrics, with the same first loss', async () => {
    const { rows, failed } = await runEngineBench({
      engines: ['torch', 'tfjs'],
      backends: ['tensorflow', 'wasm', 'cpu'],
      shapes: ['stories260K'],
      methods: ['lora'],
      seqs: [32],
      threads: 1,
      python: venvPython,
      json: join(dir, 'smoke.json'),
    });
    expect(failed).toEqual([]);
    expect(rows.map((r) => r.engine)).toEqual(['torch', 'tfjs']);
    for (const r of rows) {
      expect(r.msPerStep).toBeGreaterThan(0);
      expect(r.tokensPerSecond).toBeCloseTo((8 * 32) / (r.msPerStep / 1000), 3);
      expect(r.stepMs).toHaveLength(7);
    }
    // The same RunSpec, data and initial weights: step 1's loss agrees (dropout draws differ after it).
    expect(rows[0].trainLoss[0]).toBeCloseTo(rows[1].trainLoss[0], 3);
  }, 300_000);
});
