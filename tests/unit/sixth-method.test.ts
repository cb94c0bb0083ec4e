// A method owns its behaviour: a sixth method, defined in this file alone and added with registerMethod (no
// other file names it), trains through the real training path, exports only as the format it defines (merged,
// checked by reloading), is refused by the formats it lacks with one line naming what it has, and appears in
// the method list that methods.list (validated by the contract), `--help` and the CLI's usage derive.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLS } from '@shared/contract';
import { ApiError } from '@shared/errors';
import { initBackend } from '../../src/main/engine/backend';
import { assignStateDict, countVariables, toStateDict, variableScope } from '../../src/main/engine/methods/common';
import { linearModules } from '../../src/main/engine/methods/lora';
import type { MethodDefinition, PeftAdapter, StateDict } from '../../src/main/engine/methods/method';
import { getMethod, METHOD_NAMES, parseMethodOptions, registerMethod } from '../../src/main/engine/methods/registry';
import type { CausalLM, ModelConfig } from '../../src/main/engine/models/causal-lm';
import type { ModelHooks } from '../../src/main/engine/models/hooks';
import { fixturesDir } from '../../src/main/engine/test-paths';
import { exportAdapter } from '../../src/main/export/export-adapter';
import { methodsHandlers } from '../../src/main/handlers/methods';
import { compareCommand, trainCommand } from '../../src/main/cli/commands/train';
import { methodOptionsHelp } from '../../src/main/cli/method-help';
import { readAdapterState } from '../../src/main/registry/adapter-store';
import { exportFormatsFor } from '../../src/main/services/export-service';
import { runDiagnostics } from '../../src/main/services/run-insights';
import { trainFromFlags as train } from '../../src/main/cli/testing/requests-from-flags';

// ---- the sixth method: a trainable scalar gate on chosen linear layers, y = (1 + g)·W x, g = 0 at init ----

const gateOptions = z.object({
  target: z.string().min(1).default('o_proj').describe("Linear layers to gate: module names equal to this or ending in '.' + this"),
});
type GateOptions = z.output<typeof gateOptions>;

function gatedModules(config: ModelConfig, target: string): string[] {
  const names = linearModules(config)
    .map((m) => m.name)
    .filter((name) => name === target || name.endsWith(`.${target}`));
  if (names.length === 0) throw new ApiError('invalid_argument', `no linear layer matches ${target}`, { field: 'target' });
  return names;
}

class GateAdapter implements PeftAdapter {
  readonly method = 'gate';
  readonly hooks: ModelHooks;
  /** module path → g [1] */
  readonly gates = new Map<string, tf.Variable>();

  constructor(
    readonly model: CausalLM,
    options: GateOptions,
  ) {
    const scope = variableScope('gate');
    for (const name of gatedModules(model.config, options.target)) this.gates.set(name, tf.variable(tf.zeros([1]), true, `${scope}${name}.gate`));
    this.hooks = {
      wrapLinear: (name, x, base) => {
        const gate = this.gates.get(name);
        return gate ? base(x).mul(gate.add(1)) : base(x); // [N, out]
      },
    };
  }

  private named(): Map<string, tf.Variable> {
    return new Map([...this.gates].map(([name, v]) => [`${name}.gate`, v]));
  }

  trainableVariables(): tf.Variable[] {
    return [...this.gates.values()];
  }

  trainableParamCount(): number {
    return countVariables(this.trainableVariables());
  }

  stateDict(): StateDict {
    return toStateDict(this.named());
  }

  loadStateDict(state: StateDict): void {
    assignStateDict(state, this.named(), 'gate');
  }

  setTraining(): void {
    // No train-only behaviour.
  }

  dispose(): void {
    for (const v of this.gates.values()) v.dispose();
    this.gates.clear();
  }
}

const gateMethod = {
  name: 'gate',
  label: 'Output gate',
  summary: 'Trains one scalar gate (1 + g) on the output of chosen linear layers.',
  options: gateOptions,
  defaultLearningRate: 1e-2,
  learningRateGrid: [3e-3, 1e-2, 3e-2],
  countParameters: (config: ModelConfig, options: GateOptions) => gatedModules(config, options.target).length,
  attach: (model: CausalLM, options: GateOptions) => new GateAdapter(model, gateOptions.parse(options)),
  exports: {
    // (1 + g)·W x = ((1 + g)·W) x: the gate folds into the weight (and a bias, where the layer has one).
    merged: {
      mergedWeights(adapter: GateAdapter): Map<string, tf.Tensor> {
        const out = new Map<string, tf.Tensor>();
        for (const [name, gate] of adapter.gates) {
          for (const suffix of ['weight', 'bias']) {
            const tensor = adapter.model.weights.get(`${name}.${suffix}`);
            if (tensor)
              out.set(
                `${name}.${suffix}`,
                tf.tidy(() => tensor.mul(gate.add(1))),
              );
          }
        }
        return out;
      },
    },
  },
} satisfies MethodDefinition<typeof gateOptions, GateAdapter>;

// ---- the proof ----

const model = join(fixturesDir, 'llama-gqa');
let home: string;
let out: string;
let data: string;

beforeAll(async () => {
  await initBackend('cpu');
  registerMethod(gateMethod);
  home = mkdtempSync(join(tmpdir(), 'prefixlab-sixth-home-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-sixth-out-'));
  data = join(home, 'weather.jsonl');
  const rows = ['Lily', 'Tom', 'Sam', 'Mia'].flatMap((name) => [
    { prompt: `${name} saw the sun. ${name} was`, completion: ' happy', label: 'happy' },
    { prompt: `${name} saw the rain. ${name} was`, completion: ' sad', label: 'sad' },
  ]);
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
});

afterAll(() => {
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a sixth method defined in one file', () => {
  it('is in the registry once: a second registration, or a name the API cannot carry, is refused', () => {
    expect(METHOD_NAMES).toEqual(['ptplus', 'prefix', 'prompt', 'lora', 'full', 'gate']);
    expect(getMethod('gate')).toBe(gateMethod);
    expect(() => registerMethod(gateMethod)).toThrow('a method named gate is already registered');
    expect(() => registerMethod({ ...gateMethod, name: 'Gate.v2' })).toThrow(/must be lower-case letters, digits and dashes/);
    expect(() => parseMethodOptions('nope', {})).toThrow("unknown method 'nope' (known: ptplus, prefix, prompt, lora, full, gate)");
  });

  it('appears in methods.list (valid by the contract), in --help and in the CLI usage lines', async () => {
    const reply = await methodsHandlers['methods.list']({}, {} as never);
    const listed = CALLS['methods.list'].response.parse(reply);
    expect(listed.methods.map((m) => m.name)).toEqual(['ptplus', 'prefix', 'prompt', 'lora', 'full', 'gate']);
    const gate = listed.methods.find((m) => m.name === 'gate')!;
    expect(gate).toMatchObject({ label: 'Output gate', defaultLearningRate: 1e-2, defaults: { target: 'o_proj' } });
    expect(gate.optionsSchema).toMatchObject({ properties: { target: { type: 'string', default: 'o_proj' } } });
    // A comparison may name it (the contract takes any method name; the handler checks it against the registry).
    expect(CALLS['training.start'].request.safeParse({ modelId: 'm', datasetId: 'd', splitName: 's', methods: [{ method: 'gate' }], seeds: [1], steps: 3 }).success).toBe(true);
    const unknown = CALLS['training.start'].request.safeParse({ modelId: 'm', datasetId: 'd', splitName: 's', methods: [{ method: 'nope' }], seeds: [1], steps: 3 });
    expect(unknown.error?.issues[0]?.message).toBe('unknown method "nope" (known: ptplus, prefix, prompt, lora, full, gate)');
    expect(methodOptionsHelp()).toMatch(/^ {2}gate \(Output gate; learning rate 0\.01\):\n {4}target +string, default "o_proj" — Linear layers to gate/m);
    expect(trainCommand.usage).toContain('--method ptplus|prefix|prompt|lora|full|gate ');
    expect(trainCommand.summary).toContain('(ptplus, prefix, prompt, lora, full, gate)');
    expect(compareCommand.usage).toContain('(M: ptplus|prefix|prompt|lora|full|gate)');
  });

  it('trains through the real training path, then exports as merged (reload-checked) and is refused as peft or ptplus', async () => {
    const result = await train({
      home,
      model,
      data,
      method: 'gate',
      steps: 3,
      seed: 0,
      evalSplit: 0,
      lr: 0.05,
      isolate: 'inline',
      set: { 'train.batchSize': '4', 'train.maxLength': '32', 'train.warmupSteps': '0' },
    });
    expect(result).toMatchObject({ status: 'finished', method: 'gate', steps: 3, trainableParams: 2, options: { target: 'o_proj' }, learningRate: 0.05 });
    expect(result.checkpoint).not.toBeNull();
    expect(result.adapterId).toBeDefined();
    const id = result.adapterId!;
    // It learned: the gates moved from 0 (so the merged weights below differ from the base's).
    const gates = readAdapterState(home, id);
    expect(Object.keys(gates).sort()).toEqual(['model.layers.0.self_attn.o_proj.gate', 'model.layers.1.self_attn.o_proj.gate']);
    expect(Object.values(gates).every((t) => t.data[0] !== 0)).toBe(true);

    expect(exportFormatsFor(home, id)).toEqual({ method: 'gate', formats: ['merged'] });
    await expect(exportAdapter({ home, id, format: 'peft', outDir: join(out, 'peft') })).rejects.toThrow('gate adapters export as merged, not peft');
    await expect(exportAdapter({ home, id, format: 'ptplus', outDir: join(out, 'ptplus') })).rejects.toThrow('gate adapters export as merged, not ptplus');

    // It defines no diagnostic: the Train view's panel is refused, naming the methods that have one.
    await expect(runDiagnostics(home, result.runId, 2)).rejects.toThrow('the prefix diagnostics apply to Prefix-Tuning+ and Prefix-Tuning runs, not gate');

    const merged = await exportAdapter({ home, id, format: 'merged', outDir: join(out, 'merged') });
    expect(merged.parity.ok).toBe(true);
    expect(merged.files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'parity.json']));
  });
});
