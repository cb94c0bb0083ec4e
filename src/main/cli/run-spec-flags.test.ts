// `--set` and the other run flags → RunSpec / ComparePlan: every documented form (README's train and compare
// rows, `prefixlab train --help`) lands in the typed field it names, and nowhere else.
import { describe, expect, it } from 'vitest';
import { comparePlanFromFlags, runSpecFromFlags, splitPerMethod } from './run-spec-flags';

const base = { model: '/m', data: '/d.jsonl' };

describe('prefixlab train flags → RunSpec', () => {
  it('--eval-data is data.evalPath; without --eval-split (or a frozen split) nothing of the training file is held out', () => {
    expect(runSpecFromFlags({ ...base, method: 'lora', evalData: '/t.tsv' }).data).toMatchObject({ evalPath: '/t.tsv', split: { evalSplit: 0 } });
    expect(runSpecFromFlags({ ...base, method: 'lora', evalData: '/t.tsv', evalSplit: 0.3 }).data).toMatchObject({ evalPath: '/t.tsv', split: { evalSplit: 0.3 } });
    const frozen = { trainIds: ['1'], evalIds: ['2'] };
    expect(runSpecFromFlags({ ...base, method: 'lora', evalData: '/t.tsv', split: frozen }).data.split).toMatchObject({ evalSplit: 0.2, frozen });
    expect(runSpecFromFlags({ ...base, method: 'lora' }).data).not.toHaveProperty('evalPath');
    const plan = comparePlanFromFlags({ ...base, methods: ['lora', 'ptplus'], seeds: [1], evalData: '/t.tsv' });
    expect(plan.base.data).toMatchObject({ evalPath: '/t.tsv', split: { evalSplit: 0 } });
  });

  it('bare keys go to the method when it has them, else to the trainer; train.KEY always to the trainer', () => {
    const spec = runSpecFromFlags({
      ...base,
      method: 'lora',
      set: { rank: '4', targets: 'all-linear', dropout: '0', batchSize: '2', 'train.maxLength': '64', addEos: 'false', batchTokens: 'null', schedule: 'linear' },
    });
    expect(spec.method).toEqual({ name: 'lora', options: { rank: 4, alpha: 16, dropout: 0, rsLora: false, targets: 'all-linear' } });
    expect(spec.trainer).toMatchObject({ batchSize: 2, maxLength: 64, addEos: false, batchTokens: null, schedule: 'linear' });
    expect(spec).toMatchObject({ version: 1, engine: 'tfjs', model: { path: '/m' }, data: { path: '/d.jsonl' } });
  });

  it("splitSeed is the split's seed; --seed, --k-per-class, --eval-split, --lr and the budget land in their fields", () => {
    const spec = runSpecFromFlags({ ...base, method: 'ptplus', set: { 'train.splitSeed': '9', featureMap: 'gelu' }, seed: 3, kPerClass: 2, evalSplit: 0.25, lr: 0.004, steps: 7 });
    expect(spec.data.split).toEqual({ seed: 9, evalSplit: 0.25, kPerClass: 2 });
    expect(spec.seed).toBe(3);
    expect(spec.trainer).toMatchObject({ learningRate: 0.004, steps: 7 });
    expect(spec.trainer).not.toHaveProperty('splitSeed');
    expect(spec.method.options).toMatchObject({ featureMap: 'gelu' });
    expect(runSpecFromFlags({ ...base, method: 'ptplus', set: { splitSeed: '2' } }).data.split.seed).toBe(2);
    expect(runSpecFromFlags({ ...base, method: 'lora', epochs: 2 }).trainer).toMatchObject({ epochs: 2 });
    expect(runSpecFromFlags({ ...base, method: 'lora', budgetTokens: 5000 }).trainer).toMatchObject({ budgetTokens: 5000 });
    const plain = runSpecFromFlags({ ...base, method: 'lora' });
    expect(plain.trainer).not.toHaveProperty('learningRate');
    expect(plain.trainer).not.toHaveProperty('steps');
    expect(plain.data.split).toEqual({ seed: 0, evalSplit: 0.2, kPerClass: null });
  });

  it('an unknown key or a bad value fails in one line naming it', () => {
    expect(() => runSpecFromFlags({ ...base, method: 'lora', set: { nope: '1' } })).toThrow(/unknown option "nope" \(lora options: rank.*; trainer options: batchSize/);
    expect(() => runSpecFromFlags({ ...base, method: 'lora', set: { rank: '0' } })).toThrow(/^lora option: rank: /);
    expect(() => runSpecFromFlags({ ...base, method: 'lora', set: { batchSize: 'x' } })).toThrow(/^trainer option: batchSize: /);
    expect(() => runSpecFromFlags({ ...base, method: 'nope' })).toThrow(/unknown method 'nope' \(known: ptplus, prefix, prompt, lora, full\)/);
  });
});

describe('prefixlab compare flags → ComparePlan', () => {
  it('--set METHOD.key goes to that method only, METHOD.lr and --lr-per-method fix its rate, bare keys are shared trainer options', () => {
    const { shared, perMethod, lrPerMethod } = splitPerMethod({ 'lora.rank': '4', 'lora.lr': '2e-3', 'ptplus.batchSize': '2', batchSize: '4' }, ['ptplus', 'lora']);
    const plan = comparePlanFromFlags({ ...base, methods: ['ptplus', 'lora'], seeds: [1, 2], set: shared, setPerMethod: perMethod, lrPerMethod, steps: 3, kPerClass: 2 });
    expect(plan.seeds).toEqual([1, 2]);
    expect(plan.base.trainer).toMatchObject({ batchSize: 4, steps: 3 });
    expect(plan.base.data.split).toMatchObject({ kPerClass: 2 });
    const [ptplus, lora] = plan.methods;
    expect(lora).toMatchObject({ name: 'lora', options: { rank: 4 }, learningRate: 0.002 });
    expect(lora).not.toHaveProperty('trainer');
    expect(ptplus).toMatchObject({ name: 'ptplus', trainer: { batchSize: 2, steps: 3 } });
    expect(ptplus).not.toHaveProperty('learningRate');
    // A bare `--set lr=X` gives every method that rate.
    expect(splitPerMethod({ lr: '0.05' }, ['ptplus', 'lora']).lrPerMethod).toEqual({ ptplus: 0.05, lora: 0.05 });
  });

  it('a shared key is always a trainer option (a method option needs METHOD.key)', () => {
    expect(() => comparePlanFromFlags({ ...base, methods: ['lora'], seeds: [1], set: { rank: '4' } })).toThrow(/unknown option "train.rank"/);
    expect(() => splitPerMethod({ 'lora.rank': '4' }, ['ptplus'])).toThrow(/lora is not among --methods/);
  });

  it('a union option takes the branch its value fits: LoRA targets as a name, a keyword or a comma list', async () => {
    const { coerceSetValue } = await import('./run-spec-flags');
    const { loraOptions } = await import('@shared/methods/lora-options');
    const targets = loraOptions.shape.targets;
    expect(coerceSetValue('q_proj,v_proj', targets)).toEqual(['q_proj', 'v_proj']);
    expect(coerceSetValue('all-linear', targets)).toBe('all-linear');
    expect(coerceSetValue('c_attn', targets)).toEqual(['c_attn']);
  });
});
