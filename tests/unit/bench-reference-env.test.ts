// The benchmark runs our side under the training process's allocator settings and its references under the
// settings it was started with (bench/reference-env.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { referenceEnv, STARTED_WITH_TUNABLES } from '../../bench/reference-env';

const saved = { tunables: process.env.GLIBC_TUNABLES, started: process.env[STARTED_WITH_TUNABLES] };
afterEach(() => {
  for (const [name, value] of [
    ['GLIBC_TUNABLES', saved.tunables],
    [STARTED_WITH_TUNABLES, saved.started],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('the references’ environment', () => {
  it('drops the tunables the benchmark set when it was started without any', () => {
    process.env.GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=1';
    process.env[STARTED_WITH_TUNABLES] = '';
    const env = referenceEnv({ OMP_NUM_THREADS: '1' });
    expect(env.GLIBC_TUNABLES).toBeUndefined();
    expect(env[STARTED_WITH_TUNABLES]).toBeUndefined();
    expect(env.OMP_NUM_THREADS).toBe('1');
  });

  it('restores the user’s own tunables', () => {
    process.env.GLIBC_TUNABLES = 'glibc.pthread.rseq=0:glibc.malloc.mmap_threshold=1';
    process.env[STARTED_WITH_TUNABLES] = 'glibc.pthread.rseq=0';
    expect(referenceEnv().GLIBC_TUNABLES).toBe('glibc.pthread.rseq=0');
  });

  it('passes the environment through when the benchmark did not restart itself', () => {
    process.env.GLIBC_TUNABLES = 'glibc.pthread.rseq=0';
    delete process.env[STARTED_WITH_TUNABLES];
    expect(referenceEnv().GLIBC_TUNABLES).toBe('glibc.pthread.rseq=0');
  });
});
