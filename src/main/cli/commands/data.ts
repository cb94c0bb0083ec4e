// `prefixlab data inspect|import|split`: validate a dataset file before anything trains, store it in the
// registry, and freeze a seeded split. `inspect` exits 0 when valid, 1 when it has errors, 2 when unreadable.
import { resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { InspectResult, PromptTemplate, TaskKind } from '@shared/contract/datasets';
import { TaskKindSchema } from '@shared/contract/datasets';
import type { Command, OptionSpec, ParsedArgs } from '../command';
import { resolveHome } from '../../app/home';
import { parseFloatFlag, parseIntFlag, parseSetFlags, requireString } from '../parse';
import { createProgressPrinter } from '../progress-line';
import { defaultTemplate, importDataset, inspectDataset, makeSplit, type DatasetTokenizer, type ScanOptions } from '../../services/dataset-service';
import { loadTokenizer } from '../../engine/io/load-model';

const READ_OPTIONS: OptionSpec = {
  task: { type: 'string' },
  map: { type: 'string', multiple: true },
  model: { type: 'string' },
  'context-length': { type: 'string' },
  'template-prompt': { type: 'string' },
  'template-target': { type: 'string' },
  system: { type: 'string' },
  chat: { type: 'boolean', default: false },
};

const TEMPLATE_USAGE = '[--template-prompt T --template-target T] [--system T] [--chat]';

async function tokenizerFor(modelPath: string): Promise<{ tokenizer: DatasetTokenizer; contextLength: number; chatTemplate: string | null }> {
  const { tokenizer, config } = await loadTokenizer(resolve(modelPath));
  if (!tokenizer) throw new ApiError('unsupported', 'this model has no tokenizer, so token lengths cannot be measured', { field: '--model' });
  return { tokenizer, contextLength: config.maxPositions, chatTemplate: tokenizer.chatTemplate };
}

/**
 * `--template-prompt/--template-target` (both, or neither: then the task's default template), `--system` and
 * `--chat` (the rendered prompt as the user turn of the model's chat template, the target as the reply).
 */
function templateFromFlags(args: ParsedArgs, task: TaskKind | undefined): PromptTemplate | undefined {
  const prompt = args.values['template-prompt'] as string | undefined;
  const target = args.values['template-target'] as string | undefined;
  const system = args.values.system as string | undefined;
  const chat = args.values.chat === true;
  if (prompt === undefined && target === undefined && system === undefined && !chat) return undefined;
  if ((prompt === undefined) !== (target === undefined)) {
    throw new ApiError('invalid_argument', 'give both --template-prompt and --template-target (or neither, for the task’s default)', {
      field: prompt === undefined ? '--template-prompt' : '--template-target',
    });
  }
  const base = prompt !== undefined && target !== undefined ? { prompt, target } : task && task !== 'chat' ? defaultTemplate(task) : null;
  if (!base) throw new ApiError('invalid_argument', '--system and --chat apply to a template: give --template-prompt and --template-target, or --task', { field: '--task' });
  return { ...base, ...(system !== undefined ? { system } : {}), ...(chat ? { chat: true } : {}) };
}

async function readOptions(args: ParsedArgs, onProgress?: ScanOptions['onProgress']): Promise<ScanOptions> {
  const task = args.values.task as string | undefined;
  if (task !== undefined && !TaskKindSchema.safeParse(task).success) {
    throw new ApiError('invalid_argument', `unknown task "${task}" (use ${TaskKindSchema.options.join(', ')})`, { field: '--task' });
  }
  const options: ScanOptions = { task: task as TaskKind | undefined, map: parseSetFlags(args.values.map, '--map'), onProgress };
  if (args.values.model) {
    const { chatTemplate, ...rest } = await tokenizerFor(args.values.model as string);
    Object.assign(options, rest);
    if (chatTemplate) options.chatTemplate = chatTemplate;
  }
  const template = templateFromFlags(args, options.task);
  if (template) {
    if (template.chat && !options.chatTemplate) {
      throw new ApiError(
        'invalid_argument',
        args.values.model ? 'the model has no chat template to render --chat with' : '--chat renders through a model’s chat template: give --model',
        {
          field: args.values.model ? '--model' : '--chat',
        },
      );
    }
    options.template = template;
  }
  const contextLength = parseIntFlag(args.values['context-length'], '--context-length', { min: 1 });
  if (contextLength !== undefined) options.contextLength = contextLength;
  return options;
}

function summarise(r: InspectResult): string {
  const lines = [
    `${r.file}: ${r.format ?? 'unknown format'}, ${r.encoding ?? '?'}${r.bom ? ' (BOM)' : ''}, ${r.rows} rows (${r.validRows} valid), task ${r.task ?? '?'} — ${r.status}`,
  ];
  if (Object.keys(r.labels).length)
    lines.push(
      `  labels: ${Object.entries(r.labels)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  if (r.tokenLengths) {
    const { truncatedRows: cut, skippedRows: skipped } = r.tokenLengths;
    const bounded = [cut && `${cut} longer than context × 32 characters measured on that much`, skipped && `${skipped} not measured (character budget spent)`].filter(Boolean);
    lines.push(`  tokens: p50 ${r.tokenLengths.p50}, p95 ${r.tokenLengths.p95}, max ${r.tokenLengths.max}${bounded.length ? ` (${bounded.join('; ')})` : ''}`);
  }
  for (const e of r.errors.slice(0, 20)) lines.push(`  error ${[e.file, e.line].filter((x) => x !== undefined).join(':')}${e.field ? ` [${e.field}]` : ''}: ${e.message}`);
  if (r.errors.length > 20)
    lines.push(
      `  … ${Object.entries(r.errorCounts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  return lines.join('\n');
}

export const dataInspectCommand: Command = {
  name: 'data inspect',
  summary: 'Validate a dataset file: format, encoding, task, labels, problems with file/line/field, token lengths',
  usage: `prefixlab data inspect FILE [--task classification|completion|instruction|chat|text] [--map role=column …] ${TEMPLATE_USAGE} [--model DIR] [--context-length N] [--json]`,
  options: READ_OPTIONS,
  async run(args) {
    const file = resolve(requireString(args.positionals[0], 'FILE'));
    const printer = createProgressPrinter();
    const result = await inspectDataset(
      file,
      await readOptions(args, (p) => printer.update(`${p.phase} ${p.totalBytes ? Math.round((100 * p.bytesRead) / p.totalBytes) : 0}% · ${p.rows.toLocaleString('en-US')} rows`)),
    );
    printer.done();
    return { json: result, text: summarise(result), exitCode: result.exitCode };
  },
};

export const dataImportCommand: Command = {
  name: 'data import',
  summary: 'Import a dataset into the registry (validated; --exclude-invalid leaves bad rows out and counts them)',
  usage: `prefixlab data import FILE [--name NAME] [--task …] [--map role=column …] ${TEMPLATE_USAGE} [--model DIR] [--exclude-invalid] [--home DIR] [--json]`,
  options: { ...READ_OPTIONS, name: { type: 'string' }, 'exclude-invalid': { type: 'boolean', default: false } },
  async run(args) {
    const file = resolve(requireString(args.positionals[0], 'FILE'));
    const manifest = await importDataset(
      file,
      { ...(await readOptions(args)), name: args.values.name as string | undefined, excludeInvalid: args.values['exclude-invalid'] === true },
      resolveHome(args.values.home as string | undefined),
    );
    return { json: manifest, text: `imported ${file} as dataset ${(manifest as { id: string }).id}` };
  },
};

export const dataSplitCommand: Command = {
  name: 'data split',
  summary: 'Freeze a seeded split (stratified, random, k per class, or from a file) of a file or imported dataset',
  usage: 'prefixlab data split FILE|DATASET_ID [--method stratified|random|kshot|file] [--seed S] [--eval-fraction F] [--k K] [--split-file F] [--save NAME] [--home DIR] [--json]',
  options: {
    method: { type: 'string' },
    seed: { type: 'string' },
    'eval-fraction': { type: 'string' },
    k: { type: 'string' },
    'split-file': { type: 'string' },
    save: { type: 'string' },
  },
  async run(args) {
    const target = requireString(args.positionals[0], 'FILE|DATASET_ID');
    const isId = /^[\w.-]+$/.test(target) && !target.includes('.');
    const source = isId ? { homeDir: resolveHome(args.values.home as string | undefined), id: target } : resolve(target);
    const method = args.values.method as 'stratified' | 'random' | 'kshot' | 'file' | undefined;
    const split = await makeSplit(source, {
      method,
      seed: parseIntFlag(args.values.seed, '--seed') ?? 0,
      evalFraction: parseFloatFlag(args.values['eval-fraction'], '--eval-fraction'),
      k: parseIntFlag(args.values.k, '--k', { min: 1 }),
      file: args.values['split-file'] ? resolve(args.values['split-file'] as string) : undefined,
      save: args.values.save as string | undefined,
    });
    return {
      json: split,
      text: `${split.method} split (seed ${split.seed}): ${split.trainIds.length} train, ${split.evalIds.length} eval${split.testIds ? `, ${split.testIds.length} test` : ''}`,
    };
  },
};
