// `prefixlab eval`: a model (optionally with an adapter) scored on a dataset file by the code training evaluates
// with (services/eval-service.ts); the flags only are parsed here.
import { ApiError } from '@shared/errors';
import { TaskKindSchema, type TaskKind } from '@shared/contract/datasets';
import type { Command } from '../command';
import { bootstrap } from '../bootstrap';
import { resolveHome } from '../../app/home';
import { parseIntFlag, parseSetFlags, requireString } from '../parse';
import { evaluateFile, type EvalResult } from '../../services/eval-service';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Score a model (and an adapter) on a dataset file: accuracy, exact match, perplexity, per-row predictions',
  usage:
    'prefixlab eval --model DIR --data FILE [--adapter ID|DIR] [--task classification|completion|instruction|chat|text] [--map role=column …] [--split RUN_ID|SPLIT_FILE] [--limit N] [--generate] [--no-label-scores] [--out predictions.jsonl] [--backend NAME] [--json]',
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    data: { type: 'string' },
    task: { type: 'string' },
    map: { type: 'string', multiple: true },
    split: { type: 'string' },
    limit: { type: 'string' },
    generate: { type: 'boolean' },
    'no-label-scores': { type: 'boolean' },
    out: { type: 'string' },
  },
  async run(args) {
    await bootstrap(args);
    const task = args.values.task as string | undefined;
    if (task !== undefined && !TaskKindSchema.safeParse(task).success) {
      throw new ApiError('invalid_argument', `unknown task "${task}" (use ${TaskKindSchema.options.join(', ')})`, { field: '--task' });
    }
    const result = await evaluateFile({
      home: resolveHome(args.values.home as string | undefined),
      model: requireString(args.values.model, '--model'),
      data: requireString(args.values.data, '--data'),
      adapter: args.values.adapter as string | undefined,
      task: task as TaskKind | undefined,
      map: parseSetFlags(args.values.map, '--map'),
      split: args.values.split as string | undefined,
      limit: parseIntFlag(args.values.limit, '--limit', { min: 1 }),
      generate: args.values.generate === true,
      labelScores: args.values['no-label-scores'] !== true,
      out: args.values.out as string | undefined,
    });
    return { json: result, text: summary(result) };
  },
};

function pct(x: number | null): string {
  return x === null ? '–' : `${(100 * x).toFixed(1)}%`;
}

function summary(r: EvalResult): string {
  const lines = [
    `${r.rows} rows · accuracy ${pct(r.accuracy)} · exact match ${pct(r.exactMatch)} · eval loss ${r.evalLoss?.toFixed(4) ?? '–'} · perplexity ${r.perplexity?.toFixed(3) ?? '–'}`,
  ];
  if (r.perClassAccuracy)
    lines.push(
      `  per class: ${Object.entries(r.perClassAccuracy)
        .map(([label, acc]) => `${label} ${pct(acc)}`)
        .join(', ')}`,
    );
  if (r.out) lines.push(`  predictions: ${r.out}`);
  return lines.join('\n');
}
