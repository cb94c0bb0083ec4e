// `export --format gguf-lora`: llama.cpp's LoRA adapter for a GGUF base, checked by llama.cpp itself
// (node-llama-cpp 3.21.1, prebuilt CPU binary). On the tiny F32 GGUF fixtures (tests/fixtures/gguf/tiny) a random
// LoRA on every linear layer goes through each layout the converter changes — none (qwen2, qwen3), fused QKV and
// gate/up (phi3), transposed Conv1D (gpt2), regrouped fused QKV (gptneox) — and llama.cpp's log-probabilities
// match ours as closely as its F32 graph does without an adapter (gguf-architectures.test.ts); a wrong row
// order would move them by whole units. llama's Q/K permutation is checked on SmolLM2 in
// gguf-lora-smollm2.test.ts. Also: the Modelfile's fields and the refusals.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { fixturesDir } from '../../engine/test-paths';
import { exportAdapter } from '../export-adapter';
import { makeRandomAdapter } from '../testing/random-adapter';
import { CHATML_GO_TEMPLATE, modelfileChat, modelfileText, ollamaCommand } from './ollama-modelfile';

const TINY = resolve(__dirname, '../../../../tests/fixtures/gguf/tiny');
/** llama.cpp's F32 graph vs transformers without an adapter (gguf-architectures.test.ts): 1e-4, GELU models 6e-3. */
const CASES = [
  { arch: 'qwen2', tolerance: 1e-3, targets: 'all-linear' },
  { arch: 'qwen3', tolerance: 1e-3, targets: 'all-linear' },
  { arch: 'phi3', tolerance: 1e-3, targets: 'all-linear' },
  { arch: 'gpt2', tolerance: 1e-2, targets: 'all-linear' },
  { arch: 'gptneox', tolerance: 1e-2, targets: 'default' },
] as const;
const present = CASES.filter((c) => existsSync(join(TINY, `${c.arch}.gguf`)));
if (present.length < CASES.length) console.warn('skipping some gguf-lora checks: tests/fixtures/gguf/tiny is incomplete (.venv/bin/python tests/fixtures/gguf/make_tiny_ggufs.py)');

let home: string;
let out: string;
beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-lora-home-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-lora-out-'));
});
afterAll(() => {
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(present)('gguf-lora on tiny/$arch (F32)', ({ arch, tolerance, targets }) => {
  it('writes adapter.gguf as llama.cpp reads it; llama.cpp with it gives our logits', async () => {
    const base = join(TINY, `${arch}.gguf`);
    const adapter = await makeRandomAdapter(home, base, 'lora', { rank: 4, alpha: 8, targets });
    const outDir = join(out, `${arch}-lora`);
    const result = await exportAdapter({ home, id: adapter.id, format: 'gguf-lora', outDir });
    expect(result.files).toEqual(expect.arrayContaining(['adapter.gguf', 'Modelfile', 'README.txt', 'parity.json']));
    expect(result.parity.ok).toBe(true);
    expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const cpp = result.parity.llamaCpp!;
    expect(cpp).toBeDefined();
    if ('skipped' in cpp) throw new Error(`llama.cpp did not run: ${cpp.skipped}`);
    console.log(`gguf-lora ${arch}: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`);
    expect(cpp.top1Agreement).toBe(1);
    expect(cpp.maxAbsLogProbDiff).toBeLessThan(tolerance);
    // The stored parity carries the llama.cpp result too.
    expect(JSON.parse(readFileSync(join(outDir, 'parity.json'), 'utf8')).llamaCpp).toMatchObject({ ok: true, positions: cpp.positions });

    const file = await readGgufFile(join(outDir, 'adapter.gguf'));
    expect(file.metadata).toMatchObject({ 'general.architecture': arch, 'general.type': 'adapter', 'adapter.type': 'lora', 'adapter.lora.alpha': 8 });
    expect(file.tensors.every((t) => t.type === 'F32' && /^blk\.\d+\.[a-z_]+\.weight\.lora_[ab]$/.test(t.name))).toBe(true);
    expect(result.ollamaCommand).toBe(`ollama create prefixlab-${adapter.id.toLowerCase()} -f ${join(outDir, 'Modelfile')}`);
    const modelfile = readFileSync(join(outDir, 'Modelfile'), 'utf8');
    expect(modelfile).toContain(`\nFROM ${base}\n`);
    expect(modelfile).toContain('\nADAPTER ./adapter.gguf\n');
  }, 120_000);
});

describe('gguf-lora options and refusals', () => {
  it.skipIf(!existsSync(join(TINY, 'qwen2.gguf')))(
    '--quant f16 writes F16 tensors that reload within the F16 rounding and pass llama.cpp',
    async () => {
      const adapter = await makeRandomAdapter(home, join(TINY, 'qwen2.gguf'), 'lora', { rank: 2, alpha: 4, rsLora: true });
      const outDir = join(out, 'qwen2-f16');
      const result = await exportAdapter({ home, id: adapter.id, format: 'gguf-lora', outDir, quant: 'f16' });
      expect(result.parity.ok).toBe(true);
      const file = await readGgufFile(join(outDir, 'adapter.gguf'));
      expect(new Set(file.tensors.map((t) => t.type))).toEqual(new Set(['F16']));
      // rsLoRA: s = α/√r, written as alpha = s·r because llama.cpp divides by r.
      expect(file.metadata['adapter.lora.alpha']).toBeCloseTo((4 / Math.sqrt(2)) * 2, 5);
      expect(result.parity.llamaCpp).toMatchObject({ ok: true, top1Agreement: 1 });
    },
    120_000,
  );

  it.skipIf(!existsSync(join(TINY, 'qwen2.gguf')))(
    'refuses PT+ (no GGUF equivalent), naming its formats and why',
    async () => {
      const adapter = await makeRandomAdapter(home, join(TINY, 'qwen2.gguf'), 'ptplus', {});
      await expect(exportAdapter({ home, id: adapter.id, format: 'gguf-lora', outDir: join(out, 'ptplus') })).rejects.toThrow(
        "ptplus adapters export as ptplus, not gguf-lora (llama.cpp's GGUF adapters are LoRA only: a ptplus adapter has no GGUF equivalent)",
      );
      expect(existsSync(join(out, 'ptplus'))).toBe(false);
    },
    60_000,
  );

  // A Hugging Face folder base is no longer refused: base.gguf is written beside the adapter (hf-base-export.test.ts).
  it('--quant f16 does not apply to a PEFT export', async () => {
    const adapter = await makeRandomAdapter(home, join(fixturesDir, 'llama-gqa'), 'lora', { rank: 2 });
    await expect(exportAdapter({ home, id: adapter.id, format: 'peft', outDir: join(out, 'hf-peft'), quant: 'f16' })).rejects.toThrow(/--quant f16 does not apply here/);
  }, 60_000);
});

describe('Ollama Modelfile', () => {
  const fileWith = (metadata: Record<string, unknown>): Parameters<typeof modelfileChat>[0] =>
    ({ path: 'x.gguf', size: 0, version: 3, alignment: 32, dataOffset: 0, tensors: [], metadata }) as never;

  it('a ChatML chat template becomes Ollama’s ChatML Go template, with the end tokens as stops', () => {
    const chat = modelfileChat(
      fileWith({
        'tokenizer.chat_template': "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
        'tokenizer.ggml.tokens': ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
        'tokenizer.ggml.eos_token_id': 2,
      }),
    );
    expect(chat).toEqual({ template: { text: CHATML_GO_TEMPLATE }, stops: ['<|im_end|>'] });
    const text = modelfileText({ comment: 'test', from: '/models/base.gguf', adapter: './adapter.gguf', ...chat });
    expect(text).toBe(['# test', 'FROM /models/base.gguf', 'ADAPTER ./adapter.gguf', `TEMPLATE """${CHATML_GO_TEMPLATE}"""`, 'PARAMETER stop "<|im_end|>"', ''].join('\n'));
  });

  it('another template is left out with the reason; EOS and end-of-turn tokens are stops', () => {
    const chat = modelfileChat(
      fileWith({
        'tokenizer.chat_template': "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}",
        'tokenizer.ggml.tokens': ['<pad>', '<eos>', '<bos>', '<end_of_turn>'],
        'tokenizer.ggml.eos_token_id': 1,
        'tokenizer.ggml.eot_token_id': 3,
      }),
    );
    expect(chat.stops).toEqual(['<eos>', '<end_of_turn>']);
    const text = modelfileText({ comment: 'c', from: '/m.gguf', ...chat });
    expect(text).toContain('# No TEMPLATE: the base chat template is Jinja and not ChatML; Ollama needs a Go template, so none is written here.');
    expect(text).not.toContain('TEMPLATE """');
    expect(text).toContain('PARAMETER stop "<eos>"\nPARAMETER stop "<end_of_turn>"\n');
  });

  it('the registration command uses a name Ollama accepts and quotes an odd path', () => {
    expect(ollamaCommand('PrefixLab-ABC_1', '/out/x/Modelfile')).toBe('ollama create prefixlab-abc_1 -f /out/x/Modelfile');
    expect(ollamaCommand('a b', "/my dir/it's/Modelfile")).toBe(`ollama create a-b -f '/my dir/it'\\''s/Modelfile'`);
  });
});
