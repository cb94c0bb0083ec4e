// The app's settings file, <home>/settings.json: the "Remote PrefixLab" block of Settings lives under
// "remote" ({url, token, connected}); other keys are kept as they are. Written atomically, owner-only (the
// token grants everything the remote server can do).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-write';

export const SETTINGS_FILE = 'settings.json';
/** The file is a few hundred bytes; anything this big is not ours. */
const MAX_SETTINGS_BYTES = 1024 * 1024;

export interface RemoteSettings {
  url: string;
  token: string | null;
  connected: boolean;
}

function readAll(home: string): Record<string, unknown> {
  const path = join(home, SETTINGS_FILE);
  if (!existsSync(path)) return {};
  try {
    const text = readFileSync(path);
    if (text.length > MAX_SETTINGS_BYTES) return {};
    const value = JSON.parse(text.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    // A damaged settings file must not keep the app from starting: it is read as empty and rewritten on save.
    return {};
  }
}

export function readRemoteSettings(home: string): RemoteSettings | null {
  const r = readAll(home).remote as Partial<RemoteSettings> | undefined;
  if (!r || typeof r.url !== 'string') return null;
  return { url: r.url, token: typeof r.token === 'string' ? r.token : null, connected: r.connected === true };
}

export async function writeRemoteSettings(home: string, remote: RemoteSettings | null): Promise<void> {
  const all = readAll(home);
  if (remote) all.remote = remote;
  else delete all.remote;
  const path = join(home, SETTINGS_FILE);
  await writeFileAtomic(path, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
}
