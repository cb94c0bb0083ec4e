// `prefixlab runs list|show|diagnostics`, `prefixlab adapters list|show`, `prefixlab export`: the registry from the
// command line (reads manifests and the index; never opens tensor files except to export and measure).
import { resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { Command, OptionSpec, ParsedArgs } from '../command';
import { resolveHome } from '../../app/home';
import { parseIntFlag, requireString } from '../parse';
import { runDiagnostics } from '../../services/run-insights';
import { listAdapters, listRuns, showAdapter, showRun, type ListFilter } from '../../services/registry-service';
import { EXPORT_FORMATS, exportAdapter, type ExportFormat } from '../../services/export-service';
import { bootstrap } from '../bootstrap';

const FILTER_OPTIONS: OptionSpec = {
  model: { type: 'string' },
  dataset: { type: 'string' },
  method: { type: 'string' },
  status: { type: 'string' },
  tag: { type: 'string' },
  sort: { type: 'string' },
  order: { type: 'string' },
  limit: { type: 'string' },
};

function filterOf(args: ParsedArgs): ListFilter {
  const v = args.values;
  const order = v.order as string | undefined;
  if (order !== undefined && order !== 'asc' && order !== 'desc') throw new ApiError('invalid_argument', 'expected asc or desc', { field: '--order' });
  const limit = v.limit === undefined ? undefined : Number(v.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new ApiError('invalid_argument', 'expected a positive integer', { field: '--limit' });
  return {
    model: v.model as string | undefined,
    dataset: v.dataset as string | undefined,
    method: v.method as string | undefined,
    status: v.status as string | undefined,
    tag: v.tag as string | undefined,
    sort: v.sort as ListFilter['sort'],
    order,
    limit,
  } as ListFilter;
}

const home = (args: ParsedArgs) => resolveHome(args.values.home as string | undefined);

export const runsListCommand: Command = {
  name: 'runs list',
  summary: 'List training runs (filter by model, dataset, method, status, tag; sort)',
  usage:
    'prefixlab runs list [--model M] [--dataset D] [--method NAME] [--status S] [--tag T] [--sort created|name|method|status|metric:NAME] [--order asc|desc] [--limit N] [--json]',
  options: FILTER_OPTIONS,
  async run(args) {
    const result = await listRuns(home(args), filterOf(args));
    // A damaged run shows why in place of its name; `runs show ID` adds how to repair or delete it.
    const text = result.runs.length
      ? result.runs
          .map(
            (r) => `${r.id}  ${String(r.method).padEnd(7)} ${String(r.status).padEnd(11)} ${r.status === 'damaged' ? `${r.reason} (prefixlab runs show ${r.id})` : (r.name ?? '')}`,
          )
          .join('\n')
      : 'no runs yet (prefixlab train …)';
    return { json: result, text };
  },
};

export const runsShowCommand: Command = {
  name: 'runs show',
  summary: 'Show one run: manifest, status, metrics and adapters',
  usage: 'prefixlab runs show ID [--json]',
  options: {},
  async run(args) {
    const details = await showRun(home(args), requireString(args.positionals[0], 'ID'));
    return { json: details };
  },
};

export const runsDiagnosticsCommand: Command = {
  name: 'runs diagnostics',
  summary: "Measure a Prefix-Tuning run's attention mass on the prefix, or a Prefix-Tuning+ run's memory-to-attention ratio, per layer",
  usage: 'prefixlab runs diagnostics ID [--texts N] [--initial] [--json]',
  options: { texts: { type: 'string' }, initial: { type: 'boolean', default: false } },
  async run(args) {
    const texts = parseIntFlag(args.values.texts, '--texts', { min: 1 }) ?? 16;
    const app = await bootstrap(args);
    const d = await runDiagnostics(app.options.home, requireString(args.positionals[0], 'ID'), texts, args.values.initial === true);
    const what = d.kind === 'prefix-attention-mass' ? 'attention mass on the prefix' : 'memory / attention output norm';
    const text = [
      `run ${d.runId} (${d.method}${args.values.initial === true ? ', untrained' : ''}): ${what}, mean over ${d.texts} eval prompts`,
      ...d.layerMeans.map((v, layer) => `  layer ${String(layer).padStart(2)}  ${v === null ? '—' : v.toFixed(4)}`),
    ].join('\n');
    return { json: { ...d, initial: args.values.initial === true }, text };
  },
};

export const adaptersListCommand: Command = {
  name: 'adapters list',
  summary: 'List trained adapters with their provenance',
  usage: 'prefixlab adapters list [--model M] [--dataset D] [--method NAME] [--tag T] [--sort …] [--order asc|desc] [--limit N] [--json]',
  options: FILTER_OPTIONS,
  async run(args) {
    const result = await listAdapters(home(args), filterOf(args));
    const text = result.adapters.length ? result.adapters.map((a) => `${a.id}  ${String(a.method).padEnd(7)} ${a.name ?? ''}`).join('\n') : 'no adapters yet';
    return { json: result, text };
  },
};

export const adaptersShowCommand: Command = {
  name: 'adapters show',
  summary: 'Show one adapter’s manifest (method, options, base model, dataset, metrics)',
  usage: 'prefixlab adapters show ID [--json]',
  options: {},
  async run(args) {
    return { json: await showAdapter(home(args), requireString(args.positionals[0], 'ID')) };
  },
};

export const exportCommand: Command = {
  name: 'export',
  summary: 'Export an adapter or finished run (PEFT, merged weights, Prefix-Tuning+, llama.cpp GGUF LoRA), checked by reload parity (and by llama.cpp for GGUF)',
  usage: `prefixlab export ID --format ${EXPORT_FORMATS.join('|')} --out DIR [--quant f32|f16 (gguf-lora) | f16|q8_0 (gguf)] [--force] [--json]`,
  options: { format: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean', default: false }, quant: { type: 'string' } },
  async run(args) {
    const id = requireString(args.positionals[0], 'ID');
    const format = requireString(args.values.format, '--format');
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new ApiError('invalid_argument', `unknown format "${format}" (use ${EXPORT_FORMATS.join(', ')})`, { field: '--format' });
    }
    const outDir = resolve(requireString(args.values.out, '--out'));
    const app = await bootstrap(args);
    const quant = args.values.quant === undefined ? undefined : (String(args.values.quant) as 'f32' | 'f16' | 'q8_0');
    const result = await exportAdapter({ home: app.options.home, id, format: format as ExportFormat, outDir, force: args.values.force === true, quant });
    let text = `exported ${id} as ${result.format} to ${result.outDir} (${result.files.length} files); reload parity max |Δlogit| = ${result.parity.maxAbsDiff.toExponential(2)} ${result.parity.ok ? 'OK' : 'FAILED'}`;
    const cpp = result.parity.llamaCpp;
    if (cpp && 'skipped' in cpp) text += `\nllama.cpp check skipped: ${cpp.skipped}`;
    else if (cpp)
      text += `\nllama.cpp check: top-1 agreement ${(100 * cpp.top1Agreement).toFixed(0)}% of ${cpp.positions} positions, max |Δ log p| ${cpp.maxAbsLogProbDiff.toFixed(3)} ${cpp.ok ? 'OK' : 'FAILED'}`;
    if (result.ollamaCommand) text += `\nOllama: ${result.ollamaCommand}`;
    return { json: result, text };
  },
};
