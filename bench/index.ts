// `npm run bench -- <generate|train> [--backend a,b] [--shape a,b] [--method a,b] [--seq 64,256] [--json FILE] [--no-reference]`
import { parseArgs } from 'node:util';
import { benchGenerate } from './generate-bench';
import { fmt, printTable, writeJson } from './report';
import { machineInfo } from './machine';
import type { BackendName } from '../src/main/engine/backend';

const list = (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      backend: { type: 'string', default: 'tensorflow,wasm,cpu' },
      shape: { type: 'string' },
      method: { type: 'string' },
      seq: { type: 'string' },
      json: { type: 'string' },
      'prompt-tokens': { type: 'string', default: '32' },
      'new-tokens': { type: 'string', default: '32' },
      'no-reference': { type: 'boolean', default: false },
    },
  });
  const task = positionals[0];
  const backends = list(values.backend) as BackendName[];
  if (task === 'generate') {
    const rows = await benchGenerate({
      backends,
      shapes: list(values.shape),
      promptTokens: Number(values['prompt-tokens']),
      newTokens: Number(values['new-tokens']),
      reference: !values['no-reference'],
    });
    const table = rows.map((r) => ({ ...r, ratio: r.reference ? r.generatedTokensPerSecond / r.reference.tokensPerSecond : undefined, ref: r.reference?.tokensPerSecond }));
    printTable(table, [
      { key: 'model', label: 'model' },
      { key: 'backend', label: 'backend' },
      { key: 'promptTokensPerSecond', label: 'prompt tok/s', format: fmt.num(1) },
      { key: 'generatedTokensPerSecond', label: 'generated tok/s', format: fmt.num(1) },
      { key: 'ref', label: 'torch tok/s', format: fmt.num(1) },
      { key: 'ratio', label: '× torch', format: fmt.num(3) },
      { key: 'peakTensorBytes', label: 'peak tensors', format: fmt.mib },
      { key: 'peakRssBytes', label: 'peak RSS', format: fmt.mib },
    ]);
    writeJson(values.json ?? 'bench-results/generate.json', { machine: machineInfo(), rows });
    return;
  }
  if (task === 'train') {
    const { runTrainBench } = await import('./train-bench');
    await runTrainBench({ backends, shapes: list(values.shape), methods: list(values.method), seqs: list(values.seq).map(Number), json: values.json, reference: !values['no-reference'] });
    return;
  }
  console.error('usage: npm run bench -- <generate|train> [--backend tensorflow,wasm,cpu] [--shape …] [--method …] [--seq …] [--json FILE]');
  process.exitCode = 2;
}

await main();
process.exit(process.exitCode ?? 0);
