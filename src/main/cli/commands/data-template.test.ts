// `prefixlab data import|inspect --template-prompt/--template-target/--system/--chat`: a labelled file rendered
// through a model's chat template (the qwen2 fixture's ChatML), stored in the dataset's manifest and examples so
// training and `--eval-data` read it the same way; flag mistakes get one line naming the flag.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../engine/test-paths';
import { cli } from '../cli-harness';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-cli-data-template-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const home = join(tmp, 'home');
const file = join(tmp, 'reviews.jsonl');
writeFileSync(file, ['{"text":"loved it","label":"positive"}', '{"text":"dull","label":"negative"}', '{"text":"great fun","label":"positive"}'].join('\n'));
const qwen = join(fixturesDir, 'qwen2');
const template = ['--template-prompt', 'Review: {{text}}', '--template-target', ' {{label}}'];

describe('prefixlab data import with a template', () => {
  it("--chat --system: the model's chat template renders system, user and the label as the reply", async () => {
    const r = await cli([
      'data',
      'import',
      file,
      '--task',
      'classification',
      ...template,
      '--system',
      'Answer positive or negative.',
      '--chat',
      '--model',
      qwen,
      '--home',
      home,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(r.stdout);
    expect(manifest.template).toEqual({ prompt: 'Review: {{text}}', target: ' {{label}}', system: 'Answer positive or negative.', chat: true });
    expect(manifest.chatTemplate).toContain('<|im_start|>');
    const [first] = readFileSync(join(home, 'datasets', manifest.id, 'examples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(first.prompt).toMatch(/^<\|im_start\|>system\nAnswer positive or negative\.<\|im_end\|>\n<\|im_start\|>user\nReview: loved it<\|im_end\|>\n<\|im_start\|>assistant\n$/);
    expect(first.target).toBe('positive<|im_end|>\n');
  });

  it('without --chat: the plain template; inspect previews the same rendering', async () => {
    const r = await cli(['data', 'inspect', file, ...template, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).preview[0]).toMatchObject({ prompt: 'Review: loved it', target: ' positive' });
  });

  it.each([
    [['--template-prompt', 'x {{text}}'], /--template-target.*give both --template-prompt and --template-target/],
    [['--chat'], /--task.*apply to a template/],
    [[...template, '--chat'], /--chat.*give --model/],
    [[...template, '--chat', '--model', join(fixturesDir, 'llama-gqa')], /--model.*has no chat template/],
  ])('%j: one line naming the flag', async (flags, message) => {
    const before = readdirSync(tmp).length;
    const r = await cli(['data', 'import', file, ...flags, '--home', join(tmp, 'other')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(tmp).length).toBe(before);
  });
});
