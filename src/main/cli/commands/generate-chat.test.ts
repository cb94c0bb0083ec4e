// `prefixlab generate --chat / --messages` and `model inspect`'s chatTemplate: on SmolLM2-135M-Instruct's GGUF file
// (fetched by scripts/models/fetch-models.py; skipped, saying why, where the cache is absent) the chat prompt is
// the model's own template rendered, tokenized exactly as llama.cpp tokenizes the same text with special tokens
// parsed, and the greedy answer to "What is the capital of France?" names Paris. Bad --messages files give one line.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../cli-harness';
import { formatChat } from '../../engine/chat';
import { loadTokenizer } from '../../engine/io/load-model';
import { unloadModels } from '../../services/model-service';
import { modelCache, realModels } from '../../engine/test-paths';

const CACHE = modelCache;
const SMOLLM2 = join(CACHE, realModels.smollm2.file);
const present = existsSync(SMOLLM2);
if (!present) console.warn(`skipping chat checks on SmolLM2-135M-Instruct: ${SMOLLM2} is absent (python3 scripts/models/fetch-models.py fetches it)`);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-chat-'));
});
afterAll(async () => {
  await unloadModels();
  rmSync(dir, { recursive: true, force: true });
});

const QUESTION = 'What is the capital of France?';

describe.skipIf(!present)('chat with SmolLM2-135M-Instruct (GGUF)', () => {
  it('renders the chat template into the ids llama.cpp gives the same text', async () => {
    const { tokenizer } = await loadTokenizer(SMOLLM2);
    const rendered = formatChat(tokenizer!, [{ role: 'user', content: QUESTION }]);
    expect(rendered).toBe(
      `<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n${QUESTION}<|im_end|>\n<|im_start|>assistant\n`,
    );
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: SMOLLM2, vocabOnly: true });
    try {
      expect(tokenizer!.encode(rendered, { addSpecialTokens: false })).toEqual([...model.tokenize(rendered, true)]);
    } finally {
      await model.dispose();
    }
  }, 120_000);

  it('answers "What is the capital of France?" with Paris, greedy (--chat --prompt)', async () => {
    const { code, stdout, stderr } = await cli(['generate', '--model', SMOLLM2, '--chat', '--prompt', QUESTION, '--greedy', '--max-new-tokens', '20', '--json']);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error')),
    ).toEqual([]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { text: string; promptIds: number[] };
    expect(result.text).toContain('Paris');
    const { tokenizer } = await loadTokenizer(SMOLLM2);
    expect(result.promptIds).toEqual(tokenizer!.encode(formatChat(tokenizer!, [{ role: 'user', content: QUESTION }]), { addSpecialTokens: false }));
  }, 300_000);

  it('takes a conversation from --messages FILE', async () => {
    const file = join(dir, 'conversation.json');
    writeFileSync(
      file,
      JSON.stringify([
        { role: 'system', content: 'You answer in one word.' },
        { role: 'user', content: QUESTION },
      ]),
    );
    const { code, stdout } = await cli(['generate', '--model', SMOLLM2, '--messages', file, '--greedy', '--max-new-tokens', '8', '--json']);
    expect(code).toBe(0);
    const { promptIds } = JSON.parse(stdout) as { promptIds: number[] };
    const { tokenizer } = await loadTokenizer(SMOLLM2);
    expect(tokenizer!.decode(promptIds, { skipSpecialTokens: false })).toBe(
      `<|im_start|>system\nYou answer in one word.<|im_end|>\n<|im_start|>user\n${QUESTION}<|im_end|>\n<|im_start|>assistant\n`,
    );
  }, 300_000);

  it('reports the chat template in model inspect', async () => {
    const { code, stdout } = await cli(['model', 'inspect', SMOLLM2, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ format: 'gguf', chatTemplate: true });
  });
});

describe('generate --messages refuses a bad file in one line', () => {
  const cases: [string, string, RegExp][] = [
    ['not-json.json', '[{"role": "user", "content": "hi"', /not-json\.json: not valid JSON .*expected a list of \{role, content\}/],
    ['not-a-list.json', '{"role": "user", "content": "hi"}', /not-a-list\.json: .*expected a list/],
    ['empty.json', '[]', /empty\.json: .*expected a list of 1 to 1000/],
    ['bad-role.json', '[{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]', /bad-role\.json: 1\.role: .*/],
    ['bad-content.json', '[{"role": "user", "content": 5}]', /bad-content\.json: 0\.content: .*/],
  ];
  it.each(cases)('%s', async (name, body, want) => {
    const file = join(dir, name);
    writeFileSync(file, body);
    // The file is read before any model is loaded: a missing model path is never reached.
    const { code, stderr } = await cli(['generate', '--model', join(dir, 'no-model'), '--messages', file, '--max-new-tokens', '1']);
    expect(code).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(want);
  });

  it('a missing file, and --chat without --prompt', async () => {
    const missing = await cli(['generate', '--model', join(dir, 'no-model'), '--messages', join(dir, 'nope.json'), '--max-new-tokens', '1']);
    expect(missing.stderr.trim()).toMatch(/nope\.json: nope\.json does not exist/);
    const chat = await cli(['generate', '--model', join(dir, 'no-model'), '--chat', '--prompt-ids', '1,2', '--max-new-tokens', '1']);
    expect(chat.stderr.trim()).toMatch(/--chat: --chat formats --prompt TEXT as a user turn/);
  });
});
