// A run's owner is its pid AND that process's start time: a reused pid is not the run's process.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isOwnerAlive, isPidAlive, processStartTime, startTimeFromStat } from './process-identity';

const hasProc = existsSync('/proc/self/stat');

/** A pid that belongs to no live process: a child that has already exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('process identity', () => {
  it('reads field 22 of /proc/PID/stat, even when the command name holds spaces and parentheses', () => {
    const tail = 'S 1 2 3 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 10';
    expect(startTimeFromStat(`4242 (node) ${tail}`)).toBe(987654);
    expect(startTimeFromStat(`4242 (my (odd) name) x) ${tail}`)).toBe(987654);
    expect(startTimeFromStat('not a stat line')).toBeNull();
    expect(startTimeFromStat('1 (x) S 1 2')).toBeNull();
  });

  it.skipIf(!hasProc)('knows this process: its start time matches /proc/self/stat', () => {
    const own = processStartTime(process.pid);
    expect(own).toBe(startTimeFromStat(readFileSync('/proc/self/stat', 'utf8')));
    expect(own).toBeGreaterThan(0);
  });

  it('a dead pid is not alive and has no start time', () => {
    const pid = deadPid();
    expect(isPidAlive(pid)).toBe(false);
    expect(processStartTime(pid)).toBeNull();
    expect(isOwnerAlive(pid, 123)).toBe(false);
    expect(isOwnerAlive(-1)).toBe(false);
  });

  it.skipIf(!hasProc)('a live pid with another start time is a reused pid, not the owner', () => {
    const own = processStartTime(process.pid)!;
    expect(isOwnerAlive(process.pid, own)).toBe(true);
    expect(isOwnerAlive(process.pid, own + 1)).toBe(false);
    // Runs recorded without a start time (older versions, no /proc) fall back to the pid.
    expect(isOwnerAlive(process.pid)).toBe(true);
    expect(isOwnerAlive(process.pid, null)).toBe(true);
  });
});
