// Why a PyTorch reference process failed, as the benchmark prints it: the signal or exit status, and the last
// stderr line that is not a progress bar's redraw (a reference killed while transformers' GGUF loader had drawn
// its bar used to print the bar and nothing else).
import { describe, expect, it } from 'vitest';
import { referenceFailure } from '../../bench/torch-reference';

const BAR =
  'Converting and de-quantizing GGUF tensors...:   0%|          | 0/236 [00:00<?, ?it/s]\rConverting and de-quantizing GGUF tensors...: 100%|##########| 236/236 [00:04<00:00, 49.98it/s]\n';

describe('referenceFailure', () => {
  it('names the signal of a killed reference and skips the progress bar', () => {
    expect(referenceFailure({ status: null, signal: 'SIGKILL', stderr: BAR })).toBe('killed by SIGKILL');
  });

  it('keeps the last real stderr line after the bar, with the exit status', () => {
    expect(referenceFailure({ status: 1, signal: null, stderr: `${BAR}Traceback (most recent call last):\nRuntimeError: out of memory\n` })).toBe(
      'exit status 1: RuntimeError: out of memory',
    );
  });

  it('reports a process that could not start', () => {
    expect(referenceFailure({ status: null, signal: null, stderr: '', error: new Error('spawnSync python ENOENT') })).toBe('Error: spawnSync python ENOENT');
  });
});
