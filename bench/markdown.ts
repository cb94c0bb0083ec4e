// `npm run bench -- markdown FILE…`: renders benchmark JSON (train, train scaling, generate, leak) as the
// Markdown tables of docs/performance.md, so the document is regenerated from measurements, not retyped.
import { readFileSync } from 'node:fs';
import { engineTable, isEngineRow } from './engine-markdown';

type Row = Record<string, unknown>;

const MIB = 2 ** 20;
const n = (value: unknown, digits = 0): string =>
  typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—';
const mib = (value: unknown): string => (typeof value === 'number' ? n(value / MIB, 1) : '—');

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function trainTable(rows: Row[]): string {
  return table(
    ['shape', 'backend', 'T', 'method', 'ms/step', 'tok/s', 'PyTorch ms/step', 'PyTorch tok/s', '× PyTorch', 'peak tensors MiB', 'trainable'],
    rows.map((r) => {
      const ref = r.reference as { tokensPerSecond: number; msPerStep?: number } | undefined;
      return [
        String(r.shape),
        String(r.backend),
        String(r.seqLen),
        String(r.method),
        n(r.msPerStep, 1),
        n(r.tokensPerSecond),
        n(ref?.msPerStep, 1),
        n(ref?.tokensPerSecond),
        ref ? `**${n((r.tokensPerSecond as number) / ref.tokensPerSecond, 2)}**` : '—',
        mib(r.peakTensorBytes),
        n(r.trainableParams),
      ];
    }),
  );
}

/** Real (GGUF) models: the quantized-base mode and both sides' memory, which is what limits users there. */
function realTrainTable(rows: Row[]): string {
  return table(
    [
      'shape',
      'backend',
      'T',
      'method',
      'quantized base',
      'ms/step',
      'tok/s',
      'PyTorch ms/step',
      '× PyTorch',
      'peak RSS MiB',
      'PyTorch peak RSS MiB',
      'process max RSS MiB',
      'PyTorch process max MiB',
    ],
    rows.map((r) => {
      const ref = r.reference as { tokensPerSecond: number; msPerStep?: number; peakRssBytes?: number; processMaxRssBytes?: number } | undefined;
      return [
        String(r.shape),
        String(r.backend),
        String(r.seqLen),
        String(r.method),
        r.quantizedBase ? 'on' : 'off',
        n(r.msPerStep, 1),
        n(r.tokensPerSecond),
        n(ref?.msPerStep, 1),
        ref ? `**${n((r.tokensPerSecond as number) / ref.tokensPerSecond, 2)}**` : '—',
        mib(r.peakRssBytes),
        mib(ref?.peakRssBytes),
        mib(r.processMaxRssBytes),
        mib(ref?.processMaxRssBytes),
      ];
    }),
  );
}

/**
 * `--data-parallel` rows: the process count, each repeat's step, the gain over one process measured in the same
 * run (`--data-parallel 1,N`) and where a step's time went (own share · wait · replica · gradient sum).
 */
function parallelTable(rows: Row[]): string {
  return table(
    ['shape', 'backend', 'T', 'method', 'processes', 'ms/step', 'runs (ms/step)', '× one process', 'own · wait · replica · sum (ms)', 'PyTorch ms/step', '× PyTorch'],
    rows.map((r) => {
      const ref = r.reference as { tokensPerSecond: number; msPerStep?: number } | undefined;
      const split = r.replicaTimes as Record<'ownMs' | 'waitMs' | 'replicaMs' | 'sumMs', number> | undefined;
      return [
        String(r.shape),
        String(r.backend),
        String(r.seqLen),
        String(r.method),
        String(r.dataParallel ?? 1),
        n(r.msPerStep),
        Array.isArray(r.runsMs) ? (r.runsMs as number[]).map((ms) => n(ms)).join(' · ') : '—',
        typeof r.overOneProcess === 'number' ? `**${n(r.overOneProcess, 2)}**` : '—',
        split ? [split.ownMs, split.waitMs, split.replicaMs, split.sumMs].map((ms) => n(ms)).join(' · ') : '—',
        n(ref?.msPerStep),
        ref ? `**${n((r.tokensPerSecond as number) / ref.tokensPerSecond, 2)}**` : '—',
      ];
    }),
  );
}

const REAL_SHAPES = new Set(['smollm2-135m', 'gemma3-270m']);

/** Training rows: the small shapes in the classic table, the real models in theirs; a data-parallel run in its own. */
function trainTables(rows: Row[]): string {
  if (rows.some((r) => typeof r.dataParallel === 'number')) return parallelTable(rows);
  const real = rows.filter((r) => REAL_SHAPES.has(String(r.shape)));
  const rest = rows.filter((r) => !REAL_SHAPES.has(String(r.shape)));
  return [rest.length ? trainTable(rest) : '', real.length ? realTrainTable(real) : ''].filter(Boolean).join('\n\n');
}

function scalingTable(rows: Row[]): string {
  return table(
    ['shape', 'backend', 'method', 'p', 'ms/step', 'peak tensors MiB'],
    rows.map((r) => [
      String(r.shape),
      String(r.backend),
      String(r.method),
      String((r.options as Row | undefined)?.numVirtualTokens ?? '—'),
      n(r.msPerStep, 1),
      mib(r.peakTensorBytes),
    ]),
  );
}

function generateTable(rows: Row[]): string {
  return table(
    ['model', 'backend', 'prompt tokens', 'new tokens', 'prefill tok/s', 'generated tok/s', 'PyTorch generate tok/s', '× PyTorch', 'peak tensors MiB'],
    rows.map((r) => {
      const ref = r.reference as { tokensPerSecond: number } | undefined;
      return [
        String(r.model),
        String(r.backend),
        n(r.promptTokens),
        n(r.newTokens),
        n(r.promptTokensPerSecond),
        n(r.generatedTokensPerSecond, 1),
        n(ref?.tokensPerSecond, 1),
        ref ? n((r.generatedTokensPerSecond as number) / ref.tokensPerSecond, 2) : '—',
        mib(r.peakTensorBytes),
      ];
    }),
  );
}

/** The real GGUF models against llama.cpp: both sides' speeds and peak RSS, and the greedy ids' agreement. */
function llamaCppTable(rows: Row[]): string {
  return table(
    [
      'model',
      'backend',
      'prompt tokens',
      'new tokens',
      'prefill tok/s',
      'generated tok/s',
      'peak RSS MiB',
      'llama.cpp prefill tok/s',
      'llama.cpp generated tok/s',
      'llama.cpp peak RSS MiB',
      '× llama.cpp (generated)',
      'first greedy ids agreeing',
    ],
    rows.map((r) => {
      const ref = r.reference as { tokensPerSecond: number; promptTokensPerSecond?: number; peakRssBytes?: number };
      const agree = r.greedyAgreement as { compared: number; matching: number } | undefined;
      return [
        String(r.model),
        String(r.backend),
        n(r.promptTokens),
        n(r.newTokens),
        n(r.promptTokensPerSecond),
        n(r.generatedTokensPerSecond, 1),
        mib(r.peakRssBytes),
        n(ref.promptTokensPerSecond),
        n(ref.tokensPerSecond, 1),
        mib(ref.peakRssBytes),
        n((r.generatedTokensPerSecond as number) / ref.tokensPerSecond, 2),
        agree ? `${agree.matching} / ${agree.compared}` : '—',
      ];
    }),
  );
}

const isLlamaCppRow = (r: Row): boolean => (r.reference as { name?: unknown } | undefined)?.name === 'llama.cpp';

/** Generation rows: those against PyTorch in the first table, those against llama.cpp in their own. */
function generateTables(rows: Row[]): string {
  const torch = rows.filter((r) => !isLlamaCppRow(r));
  const llama = rows.filter(isLlamaCppRow);
  return [torch.length ? generateTable(torch) : '', llama.length ? llamaCppTable(llama) : ''].filter(Boolean).join('\n\n');
}

function leakTable(rows: Row[]): string {
  return table(
    ['shape', 'backend', 'method', 'steps', 'ms/step', 'tensors (step 1 → half → end)', 'tensor MiB (→ end)', 'RSS MiB (step 1 → half → end)', 'loss first → last'],
    rows.map((r) => {
      const tensors = r.tensors as number[];
      const bytes = r.tensorBytes as number[];
      const rss = r.rssBytes as number[];
      const losses = r.losses as { first: number; last: number };
      return [
        String(r.shape),
        String(r.backend),
        String(r.method),
        n(r.steps),
        n(r.msPerStep, 1),
        tensors.join(' → '),
        `${mib(bytes[0])} → ${mib(bytes[2])}`,
        rss.map((b) => n(b / MIB)).join(' → '),
        `${n(losses.first, 3)} → ${n(losses.last, 3)}`,
      ];
    }),
  );
}

/** Picks the table by the rows' fields, so any benchmark JSON can be passed. */
export function renderMarkdown(files: string[]): string {
  const out: string[] = [];
  for (const file of files) {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { machine?: Row; threads?: number; rows?: Row[]; scaling?: Row[]; failed?: Row[] };
    const rows = json.rows ?? json.scaling ?? [];
    const first = rows[0] ?? {};
    const render = json.scaling
      ? scalingTable
      : isEngineRow(first)
        ? engineTable
        : 'tensors' in first
          ? leakTable
          : 'generatedTokensPerSecond' in first
            ? generateTables
            : trainTables;
    const machine = json.machine
      ? `${String(json.machine.cpu)}, ${String(json.machine.cores)} cores, Node ${String(json.machine.node)}, tfjs ${String(json.machine.tfjs)}, ${String(json.machine.date).slice(0, 16).replace('T', ' ')} UTC`
      : '';
    const failures = (json.failed ?? [])
      .map((f) => `\n\nNot measured: ${String(f.shape)}, ${String(f.backend ?? f.engine)}, T = ${String(f.seqLen)}, ${String(f.method)}: ${String(f.error)}`)
      .join('');
    out.push(`<!-- ${file}: ${machine}${json.threads ? `, ${json.threads} thread(s)` : ''} -->\n${rows.length ? render(rows) : ''}${failures}`);
  }
  return out.join('\n\n');
}
