// `prefixlab train --data-parallel N` → the RunSpec's trainer.dataParallel (default 1); `--set dataParallel=` is
// the same option; a bad value is one line naming the flag.
import { describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { parseIntFlag } from './parse';
import { runSpecFromFlags } from './run-spec-flags';

const base = { model: '/m', data: '/d.jsonl', method: 'lora' };

describe('--data-parallel', () => {
  it('lands in trainer.dataParallel (1 by default; the flag wins over --set)', () => {
    expect(runSpecFromFlags(base).trainer.dataParallel).toBe(1);
    expect(runSpecFromFlags({ ...base, dataParallel: 2 }).trainer.dataParallel).toBe(2);
    expect(runSpecFromFlags({ ...base, set: { dataParallel: '3' } }).trainer.dataParallel).toBe(3);
    expect(runSpecFromFlags({ ...base, set: { dataParallel: '3' }, dataParallel: 2 }).trainer.dataParallel).toBe(2);
  });

  it('refuses a count that is not an integer from 1 to 64, naming the flag or the option', () => {
    expect(() => parseIntFlag('0', '--data-parallel', { min: 1, max: 64 })).toThrow('expected an integer 1…64, got "0"');
    expect(() => runSpecFromFlags({ ...base, set: { dataParallel: '0' } })).toThrow(ApiError);
    expect(() => runSpecFromFlags({ ...base, set: { dataParallel: '1.5' } })).toThrow(/dataParallel/);
  });
});
