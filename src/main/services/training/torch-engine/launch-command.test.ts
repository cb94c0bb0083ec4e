// The torch engine's command line: plain `python -m` for one process, `accelerate launch` for several or a config.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLaunchCommand, checkAccelerateConfig, checkNproc } from './launch-command';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-launch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildLaunchCommand', () => {
  const base = { python: '/py/bin/python', handoffDir: '/runs/r/handoff', runDir: '/runs/r' };
  it('runs one process with plain python -m', () => {
    expect(buildLaunchCommand(base)).toEqual({ command: '/py/bin/python', args: ['-m', 'prefixlab_torch.train', '--handoff', '/runs/r/handoff', '--run-dir', '/runs/r'], env: {} });
  });
  it("uses accelerate's torchrun path for several processes (CPU ranks on gloo), a config file as it says, and passes --resume", () => {
    const engine = ['-m', 'prefixlab_torch.train', '--handoff', '/runs/r/handoff', '--run-dir', '/runs/r'];
    const logs = ['--tee', '2', '--log_dir', '/runs/r/launch-logs'];
    expect(buildLaunchCommand({ ...base, nproc: 2, resume: true })).toEqual({
      command: '/py/bin/python',
      args: [
        '-m',
        'accelerate.commands.launch',
        '--multi_gpu',
        '--num_machines',
        '1',
        '--num_processes',
        '2',
        '--mixed_precision',
        'no',
        '--dynamo_backend',
        'no',
        ...logs,
        ...engine,
        '--resume',
      ],
      env: { PET_REDIRECTS: '2' },
    });
    // A config decides the processes unless --nproc is given.
    expect(buildLaunchCommand({ ...base, accelerateConfig: '/cfg/fsdp.yaml' }).args).toEqual([
      '-m',
      'accelerate.commands.launch',
      '--config_file',
      '/cfg/fsdp.yaml',
      ...logs,
      ...engine,
    ]);
    expect(buildLaunchCommand({ ...base, accelerateConfig: '/cfg/fsdp.yaml', nproc: 4 }).args.slice(2, 6)).toEqual(['--config_file', '/cfg/fsdp.yaml', '--num_processes', '4']);
  });
});

describe('bad flags', () => {
  it('--nproc must be a whole number ≥ 1', () => {
    expect(checkNproc(undefined)).toBe(1);
    expect(checkNproc(4)).toBe(4);
    expect(() => checkNproc(0)).toThrow(expect.objectContaining({ field: '--nproc', message: 'give a whole number of processes ≥ 1, got 0' }));
    expect(() => checkNproc(1.5)).toThrow('got 1.5');
  });
  it('--accelerate-config must be a readable file', () => {
    const ok = join(dir, 'cfg.yaml');
    writeFileSync(ok, 'distributed_type: NO\n');
    expect(checkAccelerateConfig(ok)).toBe(ok);
    const flag = { field: '--accelerate-config' };
    expect(() => checkAccelerateConfig(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ ...flag, file: join(dir, 'missing.yaml'), message: 'no such file' }));
    expect(() => checkAccelerateConfig(dir)).toThrow(expect.objectContaining({ ...flag, file: dir, message: 'not a file' }));
    const locked = join(dir, 'locked.yaml');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0o000);
    // root reads any file: the check only bites for other users.
    if (process.getuid?.() !== 0) expect(() => checkAccelerateConfig(locked)).toThrow(expect.objectContaining({ ...flag, file: locked, message: 'cannot be read (EACCES)' }));
  });
});
