// https:// and wss:// to a server whose certificate Node does not trust (self-signed, as a first proxy setup often
// is) fail as one line that says so and names the fix, for the download and for the connection alike. The
// certificate is made here with openssl (skipped where openssl is missing); nothing is written to the home.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { pullAdapter } from './adapter-pull';
import { RemoteConnection } from './remote-connection';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn('skipping the TLS test: no openssl to make a certificate with');
    return false;
  }
}

describe.skipIf(!hasOpenssl())('remote over TLS with an untrusted certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prefixlab-tls-'));
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a pull fails in one line naming the untrusted certificate and the fix, writing nothing', async () => {
    const home = join(dir, 'home');
    const err = await pullAdapter({ home, url, token: 't', adapterId: 'a-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toMatch(/its TLS certificate is not trusted \(self-signed certificate\).*NODE_EXTRA_CA_CERTS/);
    expect((err as ApiError).message).not.toContain('\n');
    expect(existsSync(join(home, 'adapters'))).toBe(false);
  });

  it('connecting fails the same way, saving nothing', async () => {
    const home = join(dir, 'home2');
    const conn = new RemoteConnection(home, null);
    const err = await conn.connect(url.replace('https:', 'wss:'), 't').catch((e: unknown) => e);
    expect((err as ApiError).message).toMatch(/^cannot reach 127\.0\.0\.1:\d+: its TLS certificate is not trusted/);
    expect(existsSync(join(home, 'settings.json'))).toBe(false);
  });
});
