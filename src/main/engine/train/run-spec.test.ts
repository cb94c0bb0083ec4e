// The RunSpec (src/shared/run-spec.ts): its committed JSON Schema is what the zod schema generates, a spec survives JSON unchanged, the
// method union types each built-in method's options, and a method registered at run time is accepted where the
// registry is loaded.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BUILT_IN_METHOD_NAMES, RunSpecSchema, runSpecJsonSchema, runSpecSchema, StoredRunSpecSchema } from '@shared/run-spec';
import { allMethods } from '../methods/registry';
import { parseRunSpec } from './run-spec';

const committed = fileURLToPath(new URL('../../../shared/run-spec.schema.json', import.meta.url));
const minimal = (method: { name: string; options?: Record<string, unknown> }) => ({ model: { path: '/m' }, data: { path: '/d.jsonl' }, method });

describe('RunSpec', () => {
  it('the committed JSON Schema is the one the zod schema generates', () => {
    const onDisk = JSON.parse(readFileSync(committed, 'utf8')) as unknown;
    expect(onDisk, 'src/shared/run-spec.schema.json is stale: run `npm run gen:run-spec-schema` and commit it').toEqual(runSpecJsonSchema());
    // It is a real schema of the union: every built-in method is a branch with its options.
    const branches = (runSpecJsonSchema() as { properties: { method: { oneOf?: { properties: { name: { const: string } } }[]; anyOf?: unknown[] } } }).properties.method;
    expect((branches.oneOf ?? (branches.anyOf as typeof branches.oneOf))!.map((b) => b.properties.name.const)).toEqual([...BUILT_IN_METHOD_NAMES]);
  });

  it('round-trips through JSON unchanged, defaults filled in, for every built-in method', () => {
    for (const name of BUILT_IN_METHOD_NAMES) {
      const spec = RunSpecSchema.parse({
        ...minimal({ name }),
        data: { path: '/d.jsonl', datasetId: 'ds', split: { seed: 3, kPerClass: 4, name: 'default', frozen: { trainIds: ['a'], evalIds: ['b'] } } },
        trainer: { batchSize: 2, learningRate: 0.01, steps: 5 },
        seed: 7,
      });
      expect(spec).toMatchObject({ version: 1, engine: 'tfjs', seed: 7, trainer: { batchSize: 2, maxLength: 256, learningRate: 0.01, steps: 5 } });
      const again = RunSpecSchema.parse(JSON.parse(JSON.stringify(spec)));
      expect(again).toEqual(spec);
      expect(JSON.stringify(again)).toBe(JSON.stringify(spec));
      expect(StoredRunSpecSchema.parse(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    }
  });

  it("types each method's options: a bad option or a wrong method's option fails naming the field", () => {
    expect(RunSpecSchema.parse(minimal({ name: 'lora', options: { rank: 4 } })).method).toMatchObject({ name: 'lora', options: { rank: 4, alpha: 16 } });
    const bad = RunSpecSchema.safeParse(minimal({ name: 'lora', options: { rank: 0 } }));
    expect(bad.error?.issues[0]?.path).toEqual(['method', 'options', 'rank']);
    const unknown = RunSpecSchema.safeParse(minimal({ name: 'gate' }));
    expect(unknown.error?.issues[0]?.path).toEqual(['method', 'name']);
    expect(RunSpecSchema.safeParse({ ...minimal({ name: 'lora' }), extra: 1 }).success).toBe(false);
    expect(RunSpecSchema.safeParse({ ...minimal({ name: 'lora' }), version: 2 }).success).toBe(false);
  });

  it('runSpecSchema(extra) accepts a method registered at run time with its own options', () => {
    const schema = runSpecSchema([{ name: 'gate', options: z.object({ target: z.string().default('o_proj') }) }]);
    expect(schema.parse(minimal({ name: 'gate' })).method).toEqual({ name: 'gate', options: { target: 'o_proj' } });
    expect(schema.parse(minimal({ name: 'ptplus' })).method.name).toBe('ptplus');
  });

  it("lists the built-in methods in the registry's order", () => {
    expect(allMethods().map((m) => m.name)).toEqual([...BUILT_IN_METHOD_NAMES]);
  });

  it('parseRunSpec checks a spec against the registry, naming the bad field as --set knows it', () => {
    expect(parseRunSpec(minimal({ name: 'prompt' })).method).toMatchObject({ name: 'prompt' });
    expect(() => parseRunSpec(minimal({ name: 'gate' }))).toThrow(/unknown method 'gate' \(known: ptplus, prefix, prompt, lora, full\)/);
    expect(() => parseRunSpec(minimal({ name: 'lora', options: { rank: 0 } }))).toThrow(/^lora option: rank: /);
    expect(() => parseRunSpec({ ...minimal({ name: 'lora' }), trainer: { batchSize: 0 } })).toThrow(/^trainer option: batchSize: /);
    expect(() => parseRunSpec({ ...minimal({ name: 'lora' }), model: { path: '' } })).toThrow(/^run spec: model\.path: /);
  });
});
