// Each supported layout and encoding, end to end through inspectDataset: format and task detection,
// line numbers, encodings, templates and chat rendering.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { inspectDataset, iterateRows, loadExamples, previewDataset } from '../services/dataset-service';
import { fixturesDir, tempDir } from './testing/test-data';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => tmp.cleanup());

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, content);
  return path;
}

describe('delimited files', () => {
  it('reads CSV with a UTF-8 BOM, CRLF and quoted newlines and tabs, numbering rows by their first line', async () => {
    const path = await file('crlf.csv', '\ufefftext,label\r\n"two\r\nlines",pos\r\n"a\ttab, and comma",neg\r\nlast,pos\r\n');
    const result = await inspectDataset(path);
    expect(result).toMatchObject({ format: 'csv', encoding: 'utf-8', bom: true, header: true, delimiter: ',', rows: 3, status: 'valid' });
    expect(result.preview.map((p) => [p.line, p.values.text])).toEqual([
      [2, 'two\nlines'],
      [4, 'a\ttab, and comma'],
      [5, 'last'],
    ]);
  });

  it.each(['utf-16le', 'utf-16be'] as const)('reads %s TSV with a BOM', async (encoding) => {
    const body = Buffer.from('sentence\tlabel\nnaïve café\t1\nplain\t0\n', 'utf16le');
    if (encoding === 'utf-16be') body.swap16();
    const bom = Buffer.from(encoding === 'utf-16le' ? [0xff, 0xfe] : [0xfe, 0xff]);
    const result = await inspectDataset(await file(`${encoding}.tsv`, Buffer.concat([bom, body])));
    expect(result).toMatchObject({ format: 'tsv', encoding, bom: true, rows: 2, labels: { 0: 1, 1: 1 }, task: 'classification' });
    expect(result.preview[0].values.sentence).toBe('naïve café');
  });

  it('detects CSV and TSV without an extension, and takes a header decision when told', async () => {
    expect((await inspectDataset(await file('noext1', 'a\tb\nc\td\ne\tf\n'), { header: false })).format).toBe('tsv');
    const csv = await inspectDataset(await file('noext2', 'question,answer\nwhy,because\nhow,so\n'));
    expect(csv).toMatchObject({ format: 'csv', task: 'completion', rows: 2 });
    const forced = await inspectDataset(await file('forced.csv', 'text,label\nx y z,1\n'), { header: false, task: 'classification', map: { text: 'column1', label: 'column2' } });
    expect(forced).toMatchObject({ rows: 2, header: false, labels: { 1: 1, label: 1 } });
  });
});

describe('JSON, JSON Lines and text', () => {
  it('reads an object holding the array of records', async () => {
    const path = await file(
      'wrapped.json',
      JSON.stringify(
        {
          version: 2,
          data: [
            { prompt: 'p1', completion: 'c1' },
            { prompt: 'p2', completion: 'c2' },
          ],
        },
        null,
        2,
      ),
    );
    const result = await inspectDataset(path);
    expect(result).toMatchObject({ format: 'json', task: 'completion', rows: 2 });
    expect(result.preview[1]).toMatchObject({ line: 8, prompt: 'p2\n', target: 'c2' });
  });

  it('reads a .json file that is really JSON Lines', async () => {
    const result = await inspectDataset(await file('lines.json', '{"text": "a"}\n{"text": "b"}\n'));
    expect(result).toMatchObject({ format: 'jsonl', task: 'text', rows: 2 });
  });

  it('reads text as one example per line, or blank-line separated documents', async () => {
    const lines = await inspectDataset(await file('lines.txt', 'first line\nsecond line\n\nthird line\n'));
    expect(lines).toMatchObject({ format: 'text', textMode: 'lines', rows: 3, task: 'text' });
    const docs = await inspectDataset(await file('docs.txt', 'para one\ncontinues\n\npara two\n \n\npara three\n'));
    expect(docs).toMatchObject({ textMode: 'documents', rows: 3 });
    expect(docs.preview.map((p) => [p.line, p.target])).toEqual([
      [1, 'para one\ncontinues'],
      [4, 'para two'],
      [7, 'para three'],
    ]);
    expect((await inspectDataset(await file('forced.txt', 'a\n\nb\n\nc\n'), { textMode: 'lines' })).rows).toBe(3);
  });

  it('iterates rows with line numbers before anything else is computed', async () => {
    const path = await file('iter.jsonl', '{"a": 1}\n\n{"a": 2}\nnot json\n');
    const seen: unknown[] = [];
    for await (const { row, issue } of iterateRows(path)) seen.push(row ? [row.line, row.values] : [issue!.kind, issue!.line]);
    expect(seen).toEqual([
      [1, { a: 1 }],
      [3, { a: 2 }],
      ['unparseable', 4],
    ]);
  });
});

describe('Parquet', () => {
  it('reads row groups with INT64 labels as numbers (snappy)', async () => {
    const result = await inspectDataset(join(fixturesDir, 'sample.parquet'));
    expect(result).toMatchObject({ format: 'parquet', rows: 250, task: 'classification', labels: { 0: 84, 1: 83, 2: 83 }, status: 'valid' });
    expect(result.preview[0]).toMatchObject({ line: 1, values: { text: 'example number 0 about sports', label: 0 } });
    expect(result.sha256).toBe('823b97e4e8e005ebbcb710ae25b9e74ca7e21adb9022b0c9b392aea6f9560bee');
  });

  it('reads nested chat messages (gzip)', async () => {
    const result = await inspectDataset(join(fixturesDir, 'chat.parquet'));
    expect(result).toMatchObject({ format: 'parquet', task: 'chat', rows: 3, status: 'valid' });
    expect(result.preview[1]).toMatchObject({ prompt: 'System: Be brief.\nUser: What is 2+2?\nAssistant:', target: ' 4' });
  });

  it.each(['zstd', 'lz4'])('reads %s-compressed row groups (polars writes zstd by default)', async (codec) => {
    const path = join(fixturesDir, `codec-${codec}.parquet`);
    const result = await inspectDataset(path);
    expect(result).toMatchObject({ format: 'parquet', rows: 120, task: 'classification', labels: { positive: 60, negative: 60 }, status: 'valid' });
    const rows = [];
    for await (const row of iterateRows(path)) rows.push(row);
    expect(rows).toHaveLength(120);
    expect(rows[119]).toMatchObject({ row: { line: 120, values: { sentence: 'review 119: the film was bad', label: 'negative' } } });
  });
});

describe('tasks and templates', () => {
  const CHATML =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

  it("renders chat through a model's chat template: the reply and its end-of-turn are the target", async () => {
    const path = await file(
      'chat.jsonl',
      JSON.stringify({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
        ],
      }) + '\n',
    );
    const [example] = await loadExamples(path, { read: { chatTemplate: CHATML } });
    expect(example.prompt).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(example.target).toBe('Hello!<|im_end|>\n');
  });

  it('reads ShareGPT conversations and reports a chat the template rejects', async () => {
    const strict = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('must start with user') }}{% endif %}" + CHATML;
    const path = await file(
      'sharegpt.jsonl',
      [
        JSON.stringify({
          conversations: [
            { from: 'human', value: 'Q' },
            { from: 'gpt', value: 'A' },
          ],
        }),
        JSON.stringify({
          conversations: [
            { from: 'gpt', value: 'A' },
            { from: 'gpt', value: 'B' },
          ],
        }),
        JSON.stringify({ conversations: [{ from: 'human', value: 'no reply' }] }),
      ].join('\n'),
    );
    const result = await inspectDataset(path, { chatTemplate: strict });
    expect(result.task).toBe('chat');
    expect(result.errors.map((e) => [e.kind, e.line])).toEqual([
      ['template', 2],
      ['missing_field', 3],
    ]);
  });

  it('names numeric labels, verbalises them, and uses an edited template', async () => {
    const path = await file('named.csv', 'review,stars\nloved it all,1\nnot good,0\n');
    const result = await inspectDataset(path, {
      map: { text: 'review', label: 'stars' },
      labelNames: { 0: 'negative', 1: 'positive' },
      verbalizer: { negative: 'bad', positive: 'great' },
      template: { prompt: 'Review: {{text}}\nVerdict ({{label_name}}):', target: ' {{label}}' },
    });
    expect(result.labels).toEqual({ negative: 1, positive: 1 });
    expect(result.preview[0]).toMatchObject({ prompt: 'Review: loved it all\nVerdict (positive):', target: ' great', label: 'positive' });
    await expect(inspectDataset(path, { map: { text: 'review', label: 'stars' }, template: { prompt: '{{nope}}', target: '' } })).rejects.toMatchObject({
      code: 'invalid_argument',
      field: 'template.prompt',
    });
  });

  it("wraps a classification template in the model's chat template (system + user turns, the label as the reply)", async () => {
    const path = await file('chat-labels.jsonl', ['{"text":"loved it","label":"good"}', '{"text":"dull","label":"bad"}'].join('\n'));
    const template = { system: 'Answer good or bad.', prompt: 'Review: {{text}}', target: ' {{label}}', chat: true };
    const [example] = await loadExamples(path, { read: { template, chatTemplate: CHATML } });
    expect(example).toMatchObject({
      prompt: '<|im_start|>system\nAnswer good or bad.<|im_end|>\n<|im_start|>user\nReview: loved it<|im_end|>\n<|im_start|>assistant\n',
      target: 'good<|im_end|>\n',
      label: 'good',
    });
    // No system template: no system turn; no chat template: the plain role format.
    const [plain] = await loadExamples(path, { read: { template: { prompt: '{{text}}', target: ' {{label}}', chat: true } } });
    expect(plain).toMatchObject({ prompt: 'User: loved it\nAssistant:', target: ' good' });
    await expect(inspectDataset(path, { template: { ...template, system: '{{#a}}open' } })).rejects.toMatchObject({ field: 'template.system' });
  });

  it('previews only the first rows (complete: false)', async () => {
    const path = await file('many.csv', 'text,label\n' + Array.from({ length: 500 }, (_, i) => `row ${i},${i % 2}`).join('\n'));
    const preview = await previewDataset(path, { rows: 10 });
    expect(preview).toMatchObject({ complete: false, rows: 10, sha256: null });
    expect(preview.preview).toHaveLength(10);
    const small = await previewDataset(await file('small.csv', 'text,label\na,1\nb,0\nc,1\nd,0\n'), { rows: 2 });
    expect(small).toMatchObject({ complete: false, rows: 2 });
    expect(await previewDataset(await file('exact.csv', 'text,label\na,1\nb,0\n'), { rows: 5 })).toMatchObject({ complete: true, rows: 2 });
  });

  it('fails loading examples from a file with errors unless excludeInvalid', async () => {
    const path = await file('bad.jsonl', '{"text": "ok"}\n{oops\n');
    await expect(loadExamples(path)).rejects.toBeInstanceOf(ApiError);
    expect(await loadExamples(path, { read: { excludeInvalid: true } })).toEqual([{ id: '1', prompt: '', target: 'ok' }]);
  });
});
