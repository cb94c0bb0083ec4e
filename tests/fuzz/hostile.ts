// Hand-made hostile inputs, each bounded in time and memory: a safetensors header claiming a 100 GB tensor,
// offsets past the end, an 8-exabyte header length; JSON nested 100,000 deep (dataset rows, config.json,
// safetensors headers, WebSocket messages); a 1 GB single-line file (streamed: simulated chunks in CI, a real
// sparse-free temp file in the full run, deleted afterwards); a CSV with 10^6 columns; config.json sizes that
// need exabytes or 2^31 layers; tokenizer ids of 2^31. Every one must end in a clear refusal or a located
// problem, never a crash, a hang or an allocation the input merely claims.
import { createWriteStream, mkdirSync, rmSync, writeFileSync, cpSync, readFileSync, symlinkSync, truncateSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { once } from 'node:events';
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { scanDataset } from '../../src/main/datasets/scan/scan-dataset';
import { readJsonl } from '../../src/main/datasets/readers/jsonl-reader';
import { readJsonDocument } from '../../src/main/datasets/readers/json-reader';
import { readDelimited } from '../../src/main/datasets/readers/delimited-reader';
import { readText } from '../../src/main/datasets/readers/text-reader';
import type { ReaderEvent } from '../../src/main/datasets/readers/reader-events';
import { SafetensorsReader } from '../../src/main/engine/io/safetensors';
import { loadModel, loadTokenizer, readModelConfig } from '../../src/main/engine/io/load-model';
import { Llama2cTokenizer } from '../../src/main/engine/io/llama2c-tokenizer';
import { FIXTURE_MODEL } from './lib/home-fixture';
import { assertSendable, unclearReason } from './lib/verdict';

export interface HostileResult {
  name: string;
  /** What happened: the refusal code and message, or the problem reported. */
  outcome: string;
  ms: number;
  /** Growth of the resident set while the case ran. */
  rssGrowthMiB: number;
}

export interface HostileCase {
  name: string;
  /** Runs the case in `tmp`; returns the outcome line, throws on a crash or a wrong outcome. */
  run(tmp: string): Promise<string>;
  /** Bounds the case must stay within. */
  maxMs: number;
  maxRssGrowthMiB: number;
}

const MiB = 2 ** 20;

function expectRefusal(err: unknown, code: RegExp, needsFile = true): string {
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
  if (!code.test(err.code)) throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`);
  const unclear = unclearReason(err.message);
  if (unclear) throw new Error(`unclear message (${unclear}): ${err.message.slice(0, 200)}`);
  if (needsFile && !err.file) throw new Error(`the refusal names no file: ${err.message}`);
  return `${err.code}: ${err.message}`;
}

async function refuses(fn: () => unknown, code: RegExp, needsFile = true): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return expectRefusal(err, code, needsFile);
  }
  throw new Error('was accepted; expected a refusal');
}

function safetensorsFile(path: string, header: string | Buffer, claimedLength?: bigint, dataBytes = 0): void {
  const json = typeof header === 'string' ? Buffer.from(header) : header;
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(claimedLength ?? BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
}

async function* chunksOf(total: number, head: string, tail: string, chunk = 'a'.repeat(MiB)): AsyncGenerator<string> {
  yield head;
  for (let done = 0; done < total; done += chunk.length) yield chunk;
  yield tail;
}

async function collect(events: AsyncGenerator<ReaderEvent>): Promise<ReaderEvent[]> {
  const out: ReaderEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** The first problem must be the skipped record at `line`, and the record after it must still be read. */
function expectSkippedThenRow(events: ReaderEvent[], line: number): string {
  const issue = events.find((e) => e.type === 'issue');
  const rows = events.filter((e) => e.type === 'row');
  if (!issue || issue.type !== 'issue' || issue.issue.line !== line) throw new Error(`expected a problem at line ${line}, got ${JSON.stringify(events).slice(0, 300)}`);
  if (rows.length !== 1) throw new Error(`expected the record after the long one to be read, got ${rows.length} rows`);
  return `line ${line}: ${issue.issue.message}`;
}

function deep(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

export function hostileCases(opts: { fullGigabyteFile: boolean }): HostileCase[] {
  const GB = 2 ** 30;
  return [
    {
      name: 'safetensors header claiming a 100 GB tensor',
      maxMs: 1000,
      maxRssGrowthMiB: 64,
      run: (tmp) => {
        const path = join(tmp, 'huge.safetensors');
        safetensorsFile(path, JSON.stringify({ w: { dtype: 'F32', shape: [25 * 2 ** 30], data_offsets: [0, 100 * GB] } }), undefined, 1024);
        return refuses(() => SafetensorsReader.open(path), /^bad_file$/);
      },
    },
    {
      name: 'safetensors data_offsets past the end of the file',
      maxMs: 1000,
      maxRssGrowthMiB: 64,
      run: (tmp) => {
        const path = join(tmp, 'short.safetensors');
        safetensorsFile(path, JSON.stringify({ w: { dtype: 'F32', shape: [16], data_offsets: [0, 64] } }), undefined, 16);
        return refuses(() => SafetensorsReader.open(path), /^bad_file$/);
      },
    },
    {
      name: 'safetensors header length of 2^63 bytes',
      maxMs: 1000,
      maxRssGrowthMiB: 64,
      run: (tmp) => {
        const path = join(tmp, 'len.safetensors');
        safetensorsFile(path, '{}', 2n ** 63n);
        return refuses(() => SafetensorsReader.open(path), /^bad_file$/);
      },
    },
    {
      name: 'safetensors header nested 1,000,000 deep',
      maxMs: 3000,
      maxRssGrowthMiB: 256,
      run: (tmp) => {
        const path = join(tmp, 'deep.safetensors');
        safetensorsFile(path, deep(1_000_000));
        return refuses(() => SafetensorsReader.open(path), /^bad_file$/);
      },
    },
    {
      name: 'JSONL row nested 100,000 deep (inspect, then sent as JSON and by structured clone)',
      maxMs: 5000,
      maxRssGrowthMiB: 256,
      run: async (tmp) => {
        const path = join(tmp, 'deep.jsonl');
        writeFileSync(path, `{"text":${deep(100_000)},"label":1}\n{"text":"fine","label":0}\n`);
        const { result } = await scanDataset(path, { previewRows: 5, labelNamesFile: false });
        assertSendable(result, 'the inspect result');
        const problem = result.errors.find((e) => e.line === 1);
        if (!problem || problem.field !== 'text') throw new Error(`expected a located problem at line 1, field text: ${JSON.stringify(result.errors)}`);
        return `${result.status}: line ${problem.line}, field ${problem.field}: ${problem.message}`;
      },
    },
    {
      name: 'config.json nested 100,000 deep',
      maxMs: 3000,
      maxRssGrowthMiB: 128,
      run: (tmp) => {
        const dir = join(tmp, 'deep-config');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'config.json'), `{"model_type":"llama","extra":${deep(100_000)}}`);
        return refuses(() => readModelConfig(dir), /^(bad_file|unsupported)$/);
      },
    },
    {
      name: opts.fullGigabyteFile ? '1 GB single-line JSONL file on disk (inspect)' : '1 GB single line, streamed (JSONL, JSON, CSV, text readers)',
      maxMs: opts.fullGigabyteFile ? 120_000 : 30_000,
      maxRssGrowthMiB: 512,
      run: async (tmp) => {
        if (opts.fullGigabyteFile) {
          const path = join(tmp, 'one-line.jsonl');
          const out = createWriteStream(path);
          const chunk = Buffer.alloc(4 * MiB, 'a');
          out.write('{"text":"');
          for (let done = 0; done < GB; done += chunk.length) if (!out.write(chunk)) await once(out, 'drain');
          out.end('"}\n{"text":"after","label":1}\n');
          await once(out, 'finish');
          try {
            const { result } = await scanDataset(path, { previewRows: 2, labelNamesFile: false });
            assertSendable(result, 'the inspect result');
            const problem = result.errors.find((e) => e.line === 1);
            if (!problem || result.rows !== 2) throw new Error(`expected the long line reported and the next read: ${JSON.stringify(result.errors).slice(0, 300)}`);
            return `${result.status}: line 1: ${problem.message}; ${result.rows} records read, sha256 ${result.sha256?.slice(0, 12)}…`;
          } finally {
            rmSync(path, { force: true });
          }
        }
        const lines: string[] = [];
        lines.push(`jsonl ${expectSkippedThenRow(await collect(readJsonl(chunksOf(GB, '{"text":"', '"}\n{"text":"ok"}\n'))), 1)}`);
        lines.push(`json ${expectSkippedThenRow(await collect(readJsonDocument(chunksOf(GB, '[{"text":"', '"},{"text":"ok"}]'))), 1)}`);
        lines.push(`csv ${expectSkippedThenRow(await collect(readDelimited(chunksOf(GB, 'text\n', '\nok\n'), { delimiter: ',', header: true })), 2)}`);
        lines.push(`text ${expectSkippedThenRow(await collect(readText(chunksOf(GB, '', '\nok\n'), 'lines')), 1)}`);
        return lines.join(' | ');
      },
    },
    {
      name: 'CSV with 1,000,000 columns',
      maxMs: 30_000,
      maxRssGrowthMiB: 512,
      run: async (tmp) => {
        const path = join(tmp, 'wide.csv');
        const cols = 1_000_000;
        const header = Array.from({ length: cols }, (_, i) => `c${i}`).join(',');
        const row = Array.from({ length: cols }, (_, i) => String(i % 10)).join(',');
        writeFileSync(path, `${header}\n${row}\n${row}\n`);
        const { result } = await scanDataset(path, { previewRows: 2, labelNamesFile: false });
        assertSendable(result, 'the inspect result');
        if (result.status === 'valid') throw new Error('a million-column file was accepted');
        const problem = result.errors[0];
        if (!problem || unclearReason(problem.message)) throw new Error(`unclear: ${JSON.stringify(problem).slice(0, 300)}`);
        return `${result.status}: line ${problem.line}: ${problem.message}`;
      },
    },
    {
      name: 'config.json claiming exabytes of weights (refused by the memory estimate before any allocation)',
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        const dir = join(tmp, 'absurd');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        writeFileSync(
          join(dir, 'config.json'),
          JSON.stringify({ model_type: 'llama', hidden_size: 2 ** 20, intermediate_size: 2 ** 22, num_hidden_layers: 4096, num_attention_heads: 2 ** 10, vocab_size: 2 ** 22 }),
        );
        const before = tf.memory().numTensors;
        const outcome = await refuses(() => loadModel(dir), /^out_of_memory$/);
        if (tf.memory().numTensors !== before) throw new Error('tensors were allocated before the refusal');
        return outcome;
      },
    },
    {
      name: 'config.json claiming 2^31 layers',
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        const dir = join(tmp, 'layers');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        writeFileSync(
          join(dir, 'config.json'),
          JSON.stringify({ model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2 ** 31 - 1, num_attention_heads: 4, vocab_size: 384 }),
        );
        return refuses(() => readModelConfig(dir), /^out_of_memory$/);
      },
    },
    {
      name: 'tokenizer.json with a token id of 2^31',
      maxMs: 3000,
      maxRssGrowthMiB: 128,
      run: async (tmp) => {
        const dir = join(tmp, 'tok');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        const tokenizer = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
        tokenizer.model.vocab.K = 2 ** 31;
        writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
        return refuses(() => loadTokenizer(dir), /^bad_file$/);
      },
    },
    // ---- model folders that would block or never end (docs/reliability.md, "Model folders") ----
    ...(['config.json', 'model.safetensors', 'tokenizer.json'] as const).map((name): HostileCase => ({
      name: `${name} that is a FIFO (would block open and read forever)`,
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        const dir = join(tmp, 'fifo');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        rmSync(join(dir, name));
        execFileSync('mkfifo', [join(dir, name)]);
        return refuses(() => (name === 'tokenizer.json' ? loadTokenizer(dir) : readModelConfig(dir)), /^bad_file$/);
      },
    })),
    ...(['config.json', 'tokenizer.json', 'model.safetensors'] as const).map((name): HostileCase => ({
      name: `${name} symlinked to /dev/zero (never ends)`,
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        const dir = join(tmp, 'zero');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        rmSync(join(dir, name));
        symlinkSync('/dev/zero', join(dir, name));
        return refuses(() => (name === 'tokenizer.json' ? loadTokenizer(dir) : readModelConfig(dir)), /^bad_file$/);
      },
    })),
    {
      name: 'llama2.c checkpoint and tok512.bin that are FIFOs',
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        execFileSync('mkfifo', [join(tmp, 'model.bin')]);
        const first = await refuses(() => readModelConfig(join(tmp, 'model.bin')), /^bad_file$/);
        execFileSync('mkfifo', [join(tmp, 'tok512.bin')]);
        return `${first}; ${await refuses(() => Llama2cTokenizer.read(join(tmp, 'tok512.bin')), /^bad_file$/)}`;
      },
    },
    {
      name: 'tokenizer.json of 65 MiB (over the 64 MiB cap; sparse, refused before reading)',
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        const dir = join(tmp, 'big');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        truncateSync(join(dir, 'tokenizer.json'), 65 * MiB);
        return refuses(() => loadTokenizer(dir), /^bad_file$/);
      },
    },
    {
      name: 'config.json of 17 MiB (over the 16 MiB cap)',
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        const dir = join(tmp, 'bigconfig');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        truncateSync(join(dir, 'config.json'), 17 * MiB);
        return refuses(() => readModelConfig(dir), /^bad_file$/);
      },
    },
    ...(
      [
        ['normalizer', { type: 'Replace', pattern: { Regex: '(a+)+$' }, content: '' }],
        ['pre_tokenizer', { type: 'Split', pattern: { Regex: '(\\w+\\s?)*$' }, behavior: 'Isolated', invert: false }],
        ['normalizer', { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '(a|a)*$' }, content: '' }] }],
      ] as const
    ).map(([part, value]): HostileCase => ({
      name: `tokenizer.json ${part} regex ${JSON.stringify(value).match(/"Regex":("[^"]*")/)?.[1]} (exponential backtracking)`,
      maxMs: 4000,
      maxRssGrowthMiB: 128,
      run: async (tmp) => {
        const dir = join(tmp, 'redos');
        cpSync(FIXTURE_MODEL, dir, { recursive: true });
        const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
        tokenizer[part] = value;
        // An added token the normalizer would run on while the library builds the tokenizer: 2^40 steps.
        (tokenizer.added_tokens as unknown[]).push({ id: 3, content: `${'a'.repeat(40)}!`, special: false, normalized: true });
        writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
        return refuses(() => loadTokenizer(dir), /^bad_file$/);
      },
    })),
    {
      name: 'dataset file that is a FIFO',
      maxMs: 2000,
      maxRssGrowthMiB: 64,
      run: async (tmp) => {
        execFileSync('mkfifo', [join(tmp, 'rows.jsonl')]);
        const { result } = await scanDataset(join(tmp, 'rows.jsonl'));
        const problem = result.errors[0];
        if (result.status !== 'unreadable' || !problem || unclearReason(problem.message)) throw new Error(`unclear: ${JSON.stringify(result.errors).slice(0, 300)}`);
        return `${result.status}: ${problem.message}`;
      },
    },
  ];
}

/** Runs every case in its own folder under `tmp`, measuring time and resident-set growth. */
export async function runHostile(tmp: string, opts: { fullGigabyteFile: boolean }): Promise<{ results: HostileResult[]; failures: string[] }> {
  const results: HostileResult[] = [];
  const failures: string[] = [];
  for (const c of hostileCases(opts)) {
    const dir = join(tmp, c.name.replace(/[^\w]+/g, '-').slice(0, 60));
    mkdirSync(dir, { recursive: true });
    (globalThis as { gc?: () => void }).gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    let outcome: string;
    try {
      outcome = await c.run(dir);
    } catch (err) {
      outcome = `FAILED: ${err instanceof Error ? err.message : String(err)}`;
    }
    const ms = Math.round(performance.now() - t0);
    const rssGrowthMiB = Math.max(0, Math.round((process.memoryUsage().rss - rss0) / MiB));
    rmSync(dir, { recursive: true, force: true });
    if (outcome.startsWith('FAILED')) failures.push(`${c.name}: ${outcome}`);
    else if (ms > c.maxMs) failures.push(`${c.name}: took ${ms} ms (bound ${c.maxMs} ms)`);
    else if (rssGrowthMiB > c.maxRssGrowthMiB) failures.push(`${c.name}: resident set grew ${rssGrowthMiB} MiB (bound ${c.maxRssGrowthMiB} MiB)`);
    results.push({ name: c.name, outcome: outcome.length > 300 ? `${outcome.slice(0, 300)}…` : outcome, ms, rssGrowthMiB });
  }
  return { results, failures };
}
