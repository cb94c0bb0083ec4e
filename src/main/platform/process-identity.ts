// Whether the process that owns a run is still the one that started it. A pid alone is not enough: once a
// training process dies the system may give its pid to an unrelated process, and a run checked by pid only
// would then read 'running' forever. So a run records its process's start time beside the pid, and is live
// only while a process with that pid exists AND started at that time.
import { readFileSync } from 'node:fs';

/**
 * Start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat, Linux), or null where
 * it cannot be read: no such process, or a platform without /proc (macOS, Windows).
 */
export function processStartTime(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    // A few hundred bytes; procfs files are generated on read and never block.
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return startTimeFromStat(stat);
}

/** Field 22 (starttime) of a /proc/PID/stat line, or null when the line is not one. */
export function startTimeFromStat(stat: string): number | null {
  // Field 2 (the command name) is in parentheses and may itself hold spaces and ')': fields 3… follow the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  const field = fields[22 - 3];
  if (field === undefined || !/^\d+$/.test(field)) return null;
  const ticks = Number(field);
  return Number.isSafeInteger(ticks) ? ticks : null;
}

/** True when a process `pid` exists on this machine (signal 0 only checks; EPERM means it exists). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while the process that recorded (`pid`, `startTime`) still runs. With no recorded start time (runs
 * of older versions, or recorded where /proc is missing) or no readable one now (no /proc on this
 * platform), this falls back to the pid alone.
 */
export function isOwnerAlive(pid: number, startTime?: number | null): boolean {
  if (!isPidAlive(pid)) return false;
  if (startTime === undefined || startTime === null) return true;
  const now = processStartTime(pid);
  return now === null ? true : now === startTime;
}
