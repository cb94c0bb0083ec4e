// PREFIXLAB_TFJS_NODE=off: both native backends are reported off (installed package or local .native build
// alike), and auto falls back to wasm, as on a machine without the native backend. Its own file: the probe
// results are cached per process, and Vitest runs each file in its own fork.
import { afterAll, describe, expect, it } from 'vitest';

const previous = process.env.PREFIXLAB_TFJS_NODE;
process.env.PREFIXLAB_TFJS_NODE = 'off';
const { initBackend, probeBackends } = await import('./backend');
afterAll(() => {
  if (previous === undefined) delete process.env.PREFIXLAB_TFJS_NODE;
  else process.env.PREFIXLAB_TFJS_NODE = previous;
});

describe('PREFIXLAB_TFJS_NODE=off', () => {
  it('reports both native backends as turned off and starts wasm', async () => {
    const statuses = await probeBackends();
    for (const name of ['tensorflow-gpu', 'tensorflow']) {
      expect(statuses.find((s) => s.name === name)).toEqual({ name, available: false, reason: 'turned off by PREFIXLAB_TFJS_NODE=off' });
    }
    expect(await initBackend('auto')).toBe('wasm');
    await expect(initBackend('tensorflow')).rejects.toThrow('tensorflow: turned off by PREFIXLAB_TFJS_NODE=off');
  });
});
