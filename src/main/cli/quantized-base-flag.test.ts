// `prefixlab train --quantized-base auto|on|off` → the RunSpec's trainer.quantizedBase (default auto); `--set
// quantizedBase=` is the same option; a bad value is one line naming the flag. And how a run resolves it.
import { describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { resolveQuantizedBase } from '../engine/io/gguf/quantized-base-option';
import { runSpecFromFlags } from './run-spec-flags';

const base = { model: '/m', data: '/d.jsonl', method: 'lora' };

describe('--quantized-base', () => {
  it('lands in trainer.quantizedBase (auto by default; the flag wins over --set)', () => {
    expect(runSpecFromFlags(base).trainer.quantizedBase).toBe('auto');
    expect(runSpecFromFlags({ ...base, quantizedBase: 'on' }).trainer.quantizedBase).toBe('on');
    expect(runSpecFromFlags({ ...base, set: { quantizedBase: 'off' } }).trainer.quantizedBase).toBe('off');
    expect(runSpecFromFlags({ ...base, set: { quantizedBase: 'off' }, quantizedBase: 'on' }).trainer.quantizedBase).toBe('on');
  });

  it('refuses another value naming the flag and the choices', () => {
    expect(() => runSpecFromFlags({ ...base, quantizedBase: 'yes' })).toThrow(ApiError);
    expect(() => runSpecFromFlags({ ...base, quantizedBase: 'yes' })).toThrow('--quantized-base yes: use auto, on, off');
  });
});

describe('resolveQuantizedBase', () => {
  it('auto: on for a GGUF base with a frozen-base method, off otherwise; off: never', () => {
    for (const method of ['lora', 'ptplus', 'prefix', 'prompt']) expect(resolveQuantizedBase('auto', method, 'gguf', '/m.gguf')).toBe(true);
    expect(resolveQuantizedBase('auto', 'full', 'gguf', '/m.gguf')).toBe(false);
    expect(resolveQuantizedBase('auto', 'lora', 'hf', '/m')).toBe(false);
    expect(resolveQuantizedBase('off', 'lora', 'gguf', '/m.gguf')).toBe(false);
    expect(resolveQuantizedBase('on', 'lora', 'gguf', '/m.gguf')).toBe(true);
  });

  it('on where it cannot apply: one line saying why', () => {
    expect(() => resolveQuantizedBase('on', 'full', 'gguf', '/m.gguf')).toThrow("quantizedBase on: method full trains the base's weights, which need float32; use auto or off");
    expect(() => resolveQuantizedBase('on', 'lora', 'hf', '/m')).toThrow('quantizedBase on: the base is not a GGUF file (hf), so it has no quantized weights; use auto or off');
  });
});
