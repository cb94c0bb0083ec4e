// `prefixlab train --recompute auto|on|off` → the RunSpec's trainer.recompute (default auto); `--set recompute=`
// is the same option; a bad value is one line naming the flag.
import { describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { runSpecFromFlags } from './run-spec-flags';

const base = { model: '/m', data: '/d.jsonl', method: 'lora' };

describe('--recompute', () => {
  it('lands in trainer.recompute (auto by default; the flag wins over --set)', () => {
    expect(runSpecFromFlags(base).trainer.recompute).toBe('auto');
    expect(runSpecFromFlags({ ...base, recompute: 'on' }).trainer.recompute).toBe('on');
    expect(runSpecFromFlags({ ...base, set: { recompute: 'off' } }).trainer.recompute).toBe('off');
    expect(runSpecFromFlags({ ...base, set: { recompute: 'off' }, recompute: 'on' }).trainer.recompute).toBe('on');
  });

  it('refuses another value naming the flag and the choices', () => {
    expect(() => runSpecFromFlags({ ...base, recompute: 'yes' })).toThrow(ApiError);
    expect(() => runSpecFromFlags({ ...base, recompute: 'yes' })).toThrow('--recompute yes: use auto, on, off');
  });
});
