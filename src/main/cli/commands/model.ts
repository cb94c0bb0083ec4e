// `prefixlab model list`, `model inspect`, `logits`, `generate`: the engine from the command line.
import { ApiError } from '@shared/errors';
import type { Command } from '../command';
import { bootstrap } from '../bootstrap';
import { parseFloatFlag, parseIdList, parseIntFlag, requireString } from '../parse';
import { generateText, inspectModel, lastLogits } from '../../services/model-service';
import { readChatMessages } from '../../engine/chat';
import { discoverModels, type DiscoveredModel } from '../../services/model-discovery';
import { ModelStore } from '../../services/model-store';
import { resolveHome } from '../../app/home';

export const modelListCommand: Command = {
  name: 'model list',
  summary: 'List imported models, or (--discover) models in the Hugging Face cache, Ollama, LM Studio and given folders',
  usage: 'prefixlab model list [--discover [--folder DIR …]] [--json]',
  options: { discover: { type: 'boolean' }, folder: { type: 'string', multiple: true } },
  async run(args) {
    const folders = (args.values.folder as string[] | undefined) ?? [];
    if (!args.values.discover) {
      if (folders.length > 0) throw new ApiError('invalid_argument', '--folder adds a folder to discovery; use it with --discover', { field: '--folder' });
      const models = await new ModelStore(resolveHome(args.values.home as string | undefined)).list();
      const text = models.length
        ? table(
            ['id', 'name', 'format', 'parameters', 'path'],
            models.map((m) => [m.id, m.name, m.format, formatCount(m.card.parameters), m.path]),
          )
        : 'no imported models (prefixlab model list --discover finds models on this machine)';
      return { json: { models }, text };
    }
    const result = await discoverModels({ folders });
    const good = result.models.filter((m) => !m.error);
    const broken = result.models.filter((m) => m.error);
    const lines = [
      good.length
        ? table(
            ['source', 'name', 'format', 'architecture', 'parameters', 'quantization', 'size', 'path'],
            good.map((m) => [m.source, m.name, m.format, m.architecture ?? '?', formatCount(m.parameters), formatTypes(m), formatBytes(m.sizeBytes), m.path]),
          )
        : 'no models found (looked in the Hugging Face cache, Ollama and LM Studio stores, and any --folder)',
      ...(broken.length ? ['', `${broken.length} broken:`, ...broken.map((m) => `  ${m.source} ${m.name}: ${m.error}`)] : []),
      ...result.warnings.map((w) => `warning: ${w}`),
    ];
    return { json: result, text: lines.join('\n') };
  },
};

/** Left-aligned columns, two spaces apart. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

function formatCount(n: number | null): string {
  if (n === null) return '?';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function formatBytes(n: number | null): string {
  if (n === null) return '?';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(1)} KiB`;
}

/** Storage types, most tensors first: "Q4_K/F32/Q6_K". */
function formatTypes(m: DiscoveredModel): string {
  if (!m.quantization) return '?';
  return Object.entries(m.quantization)
    .sort((a, b) => b[1] - a[1])
    .map(([type]) => type)
    .join('/');
}

export const modelInspectCommand: Command = {
  name: 'model inspect',
  summary: 'Read a model folder (or a llama2.c .bin, or a GGUF file) and print its architecture card',
  usage: 'prefixlab model inspect DIR|FILE.gguf [--json]',
  options: {},
  async run(args) {
    const dir = requireString(args.positionals[0], 'DIR');
    const card = await inspectModel(dir);
    const text = [
      `${card.architecture} (${card.format}) · ${card.parameters.toLocaleString('en-US')} parameters · ${card.dtype} on disk`,
      `  layers ${card.layers} · hidden ${card.hidden} · heads ${card.heads} (KV ${card.kvHeads}) · head dim ${card.headDim}`,
      `  vocab ${card.vocab} · context ${card.context} · tied embeddings ${card.tiedEmbeddings ? 'yes' : 'no'} · ${(card.memoryBytesFloat32 / 2 ** 20).toFixed(1)} MiB at float32`,
      `  chat template ${card.chatTemplate ? 'yes' : 'no'}`,
    ].join('\n');
    return { json: card, text };
  },
};

export const logitsCommand: Command = {
  name: 'logits',
  summary: 'Print the last position’s logits for a list of token ids',
  usage: 'prefixlab logits --model DIR --ids 1,2,3 [--adapter ID|DIR] [--backend NAME] [--json]',
  options: { model: { type: 'string' }, ids: { type: 'string' }, adapter: { type: 'string' } },
  async run(args) {
    await bootstrap(args);
    const home = resolveHome(args.values.home as string | undefined);
    const model = requireString(args.values.model, '--model');
    const ids = parseIdList(requireString(args.values.ids, '--ids'), '--ids')!;
    const { logits, backend } = await lastLogits({ model, ids, adapter: args.values.adapter as string | undefined, home });
    const top = logits
      .map((v, i) => [i, v] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5);
    return { json: { backend, logits }, text: `backend ${backend}; top-5 ids: ${top.map(([i, v]) => `${i} (${v.toFixed(3)})`).join(', ')}` };
  },
};

export const generateCommand: Command = {
  name: 'generate',
  summary: 'Generate text from a prompt or a chat (greedy or sampled), streaming tokens',
  usage:
    'prefixlab generate --model DIR [--adapter ID|DIR] (--prompt TEXT [--chat] | --messages FILE | --prompt-ids 1,2,3) --max-new-tokens N [--greedy] [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S] [--stop STR …] [--backend NAME] [--json]',
  options: {
    model: { type: 'string' },
    prompt: { type: 'string' },
    'prompt-ids': { type: 'string' },
    chat: { type: 'boolean' },
    messages: { type: 'string' },
    'max-new-tokens': { type: 'string', default: '64' },
    greedy: { type: 'boolean' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    'repetition-penalty': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string', multiple: true },
    adapter: { type: 'string' },
  },
  async run(args, io) {
    await bootstrap(args);
    const home = resolveHome(args.values.home as string | undefined);
    const model = requireString(args.values.model, '--model');
    const promptIds = parseIdList(args.values['prompt-ids'], '--prompt-ids');
    const text = args.values.prompt as string | undefined;
    const messagesFile = args.values.messages as string | undefined;
    if ([text, messagesFile, promptIds].filter((v) => v !== undefined).length !== 1) {
      throw new ApiError('invalid_argument', 'give exactly one of --prompt TEXT, --messages FILE or --prompt-ids 1,2,3', { field: '--prompt' });
    }
    const chat = args.values.chat === true;
    if (chat && text === undefined) throw new ApiError('invalid_argument', '--chat formats --prompt TEXT as a user turn; give --prompt', { field: '--chat' });
    // --chat: the text as one user turn of the model's chat template, with the generation prompt; --messages: a whole conversation.
    const messages = messagesFile !== undefined ? readChatMessages(messagesFile) : chat ? [{ role: 'user' as const, content: text! }] : undefined;
    const prompt = messages ? undefined : text;
    const temperature = parseFloatFlag(args.values.temperature, '--temperature');
    const result = await generateText({
      model,
      adapter: args.values.adapter as string | undefined,
      home,
      prompt,
      messages,
      promptIds,
      maxNewTokens: parseIntFlag(args.values['max-new-tokens'], '--max-new-tokens', { min: 0, max: 100_000 })!,
      greedy: args.values.greedy === true ? true : temperature !== undefined && temperature > 0 ? false : undefined,
      temperature,
      topK: parseIntFlag(args.values['top-k'], '--top-k', { min: 1 }),
      topP: parseFloatFlag(args.values['top-p'], '--top-p'),
      repetitionPenalty: parseFloatFlag(args.values['repetition-penalty'], '--repetition-penalty'),
      seed: parseIntFlag(args.values.seed, '--seed'),
      stopStrings: args.values.stop as string[] | undefined,
      // Without --json the tokens stream to the terminal as they come.
      onToken: io.json ? undefined : ({ text }) => process.stdout.write(text),
    });
    const summary = `\n[${result.ids.length} tokens, ${result.tokensPerSecond.toFixed(1)} tokens/s, ${result.backend}, stopped: ${result.finishReason}]`;
    return { json: result, text: summary };
  },
};
