// The contract validates every call's arguments and names the offending field; the dispatcher wraps
// results and errors in one envelope whatever the transport.
import { describe, expect, it } from 'vitest';
import { CALLS, isCallName } from '@shared/contract';
import { buildApi } from '@shared/contract/client';
import { ApiError } from '@shared/errors';
import { createDispatcher, validateRequest } from '../../src/main/rpc/dispatch';
import type { Handlers } from '@shared/contract';

describe('contract validation', () => {
  it('rejects a bad argument with a message naming the field', () => {
    expect(() => validateRequest('system.setBackend', { backend: 'quantum' })).toThrowError(/backend/);
    try {
      validateRequest('system.setBackend', { backend: 'quantum' });
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('invalid_argument');
      expect((err as ApiError).field).toBe('backend');
    }
  });

  it('rejects unknown fields and unknown calls', () => {
    expect(() => validateRequest('system.info', { surprise: 1 })).toThrowError(/surprise|unrecognized/i);
    expect(() => validateRequest('system.nothing', {})).toThrowError(/unknown call/);
    expect(isCallName('system.info')).toBe(true);
    expect(isCallName('constructor')).toBe(false);
  });

  it('accepts valid requests and fills nothing it should not', () => {
    expect(validateRequest('system.setBackend', { backend: 'auto' })).toEqual({ backend: 'auto' });
    expect(validateRequest('system.info', undefined)).toEqual({});
  });

  it('every call has a request schema, a response schema and a doc line', () => {
    for (const [name, spec] of Object.entries(CALLS)) {
      expect(name).toMatch(/^[a-z]+\.[a-zA-Z]+$/);
      expect(spec.doc.length).toBeGreaterThan(10);
      expect(typeof spec.request.safeParse).toBe('function');
      expect(typeof spec.response.safeParse).toBe('function');
    }
  });
});

describe('dispatcher and client over an in-memory transport', () => {
  const info = {
    appVersion: '0.0.0',
    tfjsVersion: '4',
    backend: 'cpu' as const,
    backends: [{ name: 'cpu' as const, available: true }],
    cpuCores: 2,
    totalMemoryBytes: 1,
    freeMemoryBytes: 1,
    platform: 'x',
    nodeVersion: '20',
    shell: 'headless' as const,
    home: '/tmp',
  };
  // Only the system calls are exercised here; the rest of the table is irrelevant to these tests.
  const handlers = {
    'system.info': async () => info,
    'system.setBackend': async (req) => {
      if (req.backend === 'tensorflow') throw new ApiError('unsupported', 'not installed', { field: 'backend' });
      return { ...info, backend: req.backend === 'auto' ? 'cpu' : req.backend };
    },
  } satisfies Pick<Handlers<null>, 'system.info' | 'system.setBackend'> as unknown as Handlers<null>;
  const dispatch = createDispatcher(handlers, null);
  const api = buildApi({ invoke: dispatch, subscribe: () => () => undefined });

  it('returns the handler result through the typed api', async () => {
    expect((await api.system.info()).backend).toBe('cpu');
    expect((await api.system.setBackend({ backend: 'wasm' })).backend).toBe('wasm');
  });

  it('carries errors with their code and field across the boundary', async () => {
    await expect(api.system.setBackend({ backend: 'tensorflow' })).rejects.toMatchObject({ code: 'unsupported', field: 'backend' });
    await expect(api.system.setBackend({ backend: 'nope' as 'cpu' })).rejects.toMatchObject({ code: 'invalid_argument', field: 'backend' });
  });

  it('refuses a handler response that drifts from the contract', async () => {
    const broken = createDispatcher({ ...handlers, 'system.info': async () => ({ ...info, backend: 'abacus' }) } as unknown as Handlers<null>, null);
    const reply = await broken('system.info', {});
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error.message).toMatch(/does not match the contract/);
  });
});
