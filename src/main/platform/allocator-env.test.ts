import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES, trainingAllocatorEnv } from './allocator-env';

const OURS = `glibc.malloc.mmap_threshold=${MMAP_THRESHOLD_BYTES}:glibc.malloc.trim_threshold=${TRIM_THRESHOLD_BYTES}`;

describe('the training process allocator settings', () => {
  it('raise glibc’s mmap and trim thresholds on Linux', () => {
    expect(trainingAllocatorEnv({}, 'linux')).toEqual({ GLIBC_TUNABLES: OURS });
  });

  it('add nothing elsewhere, or when PREFIXLAB_ALLOCATOR=default', () => {
    expect(trainingAllocatorEnv({}, 'darwin')).toEqual({});
    expect(trainingAllocatorEnv({}, 'win32')).toEqual({});
    expect(trainingAllocatorEnv({ PREFIXLAB_ALLOCATOR: 'default' }, 'linux')).toEqual({});
  });

  it('keep the user’s own tunables, and a malloc setting the user made wins over ours', () => {
    expect(trainingAllocatorEnv({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' }, 'linux')).toEqual({ GLIBC_TUNABLES: `glibc.pthread.rseq=0:${OURS}` });
    expect(trainingAllocatorEnv({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0' }, 'linux')).toEqual({
      GLIBC_TUNABLES: `glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=${MMAP_THRESHOLD_BYTES}`,
    });
  });

  it('are idempotent: a process started with them adds nothing again', () => {
    expect(trainingAllocatorEnv({ GLIBC_TUNABLES: OURS }, 'linux')).toEqual({});
  });

  it.runIf(process.platform === 'linux')('start a Node process that allocates and frees large buffers normally', () => {
    const script =
      'let s = 0; for (let i = 0; i < 8; i++) { const a = new Float32Array(16 * 2 ** 20); a[a.length - 1] = i; s += a[a.length - 1]; } console.log(s, process.env.GLIBC_TUNABLES)';
    const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...trainingAllocatorEnv({}, 'linux') }, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe(`28 ${OURS}`);
  });
});
