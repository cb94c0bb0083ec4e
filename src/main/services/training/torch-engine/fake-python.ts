// Tests only: a stand-in for the engine's Python (a Node script with a `python` name) that answers the probe and
// behaves like `-m prefixlab_torch.train` as torch-format.md describes it — metrics.jsonl per step, atomic
// checkpoints, adapter.safetensors and result.json, SIGTERM → checkpoint + "cancelled", --resume from the newest
// checkpoint — so the launcher, tailing, cancel, resume and manifest code are tested without torch.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakePythonOptions {
  /** Packages the probe reports as not importable. */
  missing?: string[];
  /** The probe says prefixlab_torch does not import. */
  noEngine?: boolean;
  /** The probe never answers. */
  hang?: boolean;
  /** The probe prints something that is not JSON. */
  notPython?: boolean;
  /** What `-m prefixlab_torch.train` does. */
  plan?: FakePlan;
}

const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const opts = JSON.parse(process.env.FAKE_PY_OPTS || '{}');
const argv = process.argv.slice(2);
if (argv[0] === '-c') {
  if (opts.hang) setInterval(() => {}, 1000);
  else if (opts.notPython) console.log('hello from something else');
  else {
    const packages = {};
    for (const name of ['torch', 'transformers', 'peft', 'accelerate']) packages[name] = (opts.missing || []).includes(name) ? null : '9.9.' + name.length;
    console.log(JSON.stringify({ python: '3.11.2', packages, devices: [{ kind: 'cpu', name: 'cpu' }], engine: !opts.noEngine }));
  }
} else {
  const arg = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  const handoff = arg('--handoff');
  const runDir = arg('--run-dir');
  const isResume = argv.includes('--resume');
  fs.mkdirSync(runDir, { recursive: true });
  fs.appendFileSync(path.join(runDir, 'launches.jsonl'), JSON.stringify({ argv, pythonpath: process.env.PYTHONPATH || '' }) + '\n');
  const plan = opts.plan;
  if (!fs.existsSync(path.join(handoff, 'runspec.json'))) { console.error('no hand-off at ' + handoff); process.exit(2); }
  const ckRoot = path.join(runDir, 'checkpoints');
  fs.mkdirSync(ckRoot, { recursive: true });
  const steps = () => fs.readdirSync(ckRoot).filter((n) => /^step-\d{6,}$/.test(n)).map((n) => Number(n.slice(5))).sort((a, b) => a - b);
  let start = 0;
  const metricsPath = path.join(runDir, 'metrics.jsonl');
  if (isResume) {
    start = steps().pop() || 0;
    const kept = fs.existsSync(metricsPath) ? fs.readFileSync(metricsPath, 'utf8').split('\n').filter((l) => l.trim()).filter((l) => { try { return JSON.parse(l).step <= start; } catch { return false; } }) : [];
    fs.writeFileSync(metricsPath, kept.map((l) => l + '\n').join(''));
  }
  const safetensors = (file, values) => {
    let header = JSON.stringify({ w: { dtype: 'F32', shape: [values.length], data_offsets: [0, values.length * 4] } });
    while (header.length % 8) header += ' ';
    const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from(header), Buffer.from(new Float32Array(values).buffer)]));
  };
  const loss = (s) => 2 / s;
  const checkpoint = (s) => {
    const name = 'step-' + String(s).padStart(6, '0');
    const tmp = path.join(ckRoot, '.' + name + '.' + process.pid + '.tmp');
    fs.mkdirSync(tmp, { recursive: true });
    safetensors(path.join(tmp, 'adapter.safetensors'), [s, s]);
    safetensors(path.join(tmp, 'optimizer.safetensors'), [0, 0]);
    fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify({ step: s }));
    fs.renameSync(tmp, path.join(ckRoot, name));
  };
  let stop = false;
  process.on('SIGTERM', () => { stop = plan.ignoreSigterm ? false : true; });
  const finish = (status, s, reason) => {
    safetensors(path.join(runDir, 'adapter.safetensors'), [s, s]);
    // The shape prefixlab_torch writes: metrics blocks, then tokensSeen/tokensPerSecond at the top level.
    const final = status === 'finished' ? { trainLoss: loss(s), evalLoss: 0.5, accuracy: 0.75, evalExamples: 4, labels: ['happy', 'sad'], confusion: [[2, 0], [1, 1]] } : { trainLoss: loss(s) };
    // Generations: each eval example's own target ids (labels that are not -100), the first one's left empty.
    // The test file's examples (indices restart at 0) go to testGenerations, all of them right.
    let generations;
    let testGenerations;
    if (status === 'finished' && plan.generate) {
      const rows = fs.readFileSync(path.join(handoff, 'examples.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
      const evalRows = rows.filter((e) => e.split === 'eval');
      generations = evalRows.map((e, i) => ({ index: e.index, ids: i === 0 ? [] : e.labels.filter((id) => id !== -100) }));
      const testRows = rows.filter((e) => e.split === 'test');
      if (testRows.length) testGenerations = testRows.map((e) => ({ index: e.index, ids: e.labels.filter((id) => id !== -100) }));
    }
    fs.writeFileSync(path.join(runDir, 'result.json'), JSON.stringify({ status, ...(reason ? { reason } : {}), steps: s, final, tokensSeen: 10 * s, tokensPerSecond: 123, ...(generations ? { generations } : {}), ...(testGenerations ? { testGenerations } : {}) }));
  };
  let s = start;
  const tick = () => {
    if (s >= plan.totalSteps) { finish('finished', s); process.exit(0); }
    s += 1;
    const line = { step: s, totalSteps: plan.totalSteps, epoch: s / plan.totalSteps, trainLoss: loss(s), learningRate: 0.01, gradNorm: 1, tokensPerSecond: 100, tokensSeen: 10 * s, etaSeconds: 0 };
    if (s % (plan.evalEvery || 1e9) === 0) Object.assign(line, { evalLoss: 1 / s, accuracy: 0.5 });
    fs.appendFileSync(metricsPath, JSON.stringify(line) + '\n');
    if (s % plan.checkpointEvery === 0 || s === plan.totalSteps) checkpoint(s);
    if (plan.dieAt === s && !isResume) process.kill(process.pid, 'SIGKILL');
    if (stop) { if (s % plan.checkpointEvery !== 0) checkpoint(s); finish('cancelled', s, 'cancelled after step ' + s); process.exit(0); }
    setTimeout(tick, plan.stepMs || 0);
  };
  tick();
}
`;

/** Writes an executable fake `python` into `dir`; its options travel in $FAKE_PY_OPTS (see fakePythonEnv). */
export function writeFakePython(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'python');
  writeFileSync(path, `#!${process.execPath}\n${SCRIPT}`);
  chmodSync(path, 0o755);
  return path;
}

export function fakePythonEnv(opts: FakePythonOptions = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, FAKE_PY_OPTS: JSON.stringify(opts) };
}

/** What the fake trainer does: steps, checkpoint cadence, a crash, generations to report. */
export interface FakePlan {
  totalSteps: number;
  checkpointEvery: number;
  evalEvery?: number;
  stepMs?: number;
  /** SIGKILL itself after this step (first launch only). */
  dieAt?: number;
  ignoreSigterm?: boolean;
  /** result.json carries greedy generations: each eval example's target ids, the first one's empty; each test example's target ids. */
  generate?: boolean;
}
