// `prefixlab serve`: the app without Electron — the built renderer plus the WebSocket API on loopback.
import { resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { Command } from '../command';
import { bootstrap } from '../bootstrap';
import { startServer } from '../../server/http-server';
import { isLoopbackHost } from '../../server/auth';
import { createDispatcher } from '../../rpc/dispatch';
import { handlers } from '../../handlers';
import { rendererDir } from '../paths';
import { lookupAdapterFile } from '../../services/remote/adapter-files';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve the app headless on http://127.0.0.1 (token-protected)',
  usage: 'prefixlab serve [--port N] [--host 127.0.0.1] [--allow-remote] [--root DIR …] [--home DIR] [--json]',
  options: {
    port: { type: 'string', default: '7860' },
    host: { type: 'string', default: '127.0.0.1' },
    'allow-remote': { type: 'boolean', default: false },
    root: { type: 'string', multiple: true },
  },
  async run(args, io) {
    const host = args.values.host as string;
    const port = Number(args.values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ApiError('invalid_argument', `expected an integer 0–65535, got "${args.values.port}"`, { field: '--port' });
    }
    if (!isLoopbackHost(host) && !args.values['allow-remote']) {
      throw new ApiError(
        'forbidden',
        `${host} is not a loopback address; serving beyond this machine needs --allow-remote (anyone who can reach it and has the token can read your files)`,
        { field: '--host' },
      );
    }
    const roots = ((args.values.root as string[] | undefined) ?? []).map((dir) => resolve(dir));
    const app = await bootstrap(args, { roots });
    const server = await startServer({
      host,
      port,
      rendererDir: rendererDir(),
      dispatch: createDispatcher(handlers, app),
      events: app.events,
      // Finished adapters are readable by id (GET /api/adapters/<id>/<file>) for `prefixlab adapters pull`.
      adapterFiles: (id, file) => lookupAdapterFile(app.options.home, id, file),
    });
    if (!isLoopbackHost(host)) io.log(`warning: serving on ${host}, reachable from other machines`);
    const browsable = app.files.roots();
    // First stdout line: machine-readable under --json, the URL to open otherwise.
    io.stdout(
      io.json
        ? JSON.stringify({ url: server.url, port: server.port, host: server.host, home: app.options.home, roots: browsable.map((r) => r.path) })
        : `PrefixLab is serving at ${server.url}`,
    );
    // The file picker can only show these folders: say which, and how to add one (a new user's first question).
    io.log(browsableFoldersLine(browsable));
    await new Promise<void>((done) => {
      let stopped = false;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void server.close().then(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (io.signal?.aborted) stop();
      io.signal?.addEventListener('abort', stop, { once: true });
    });
    return 'streamed';
  },
};

/** One stderr line: the folders the browser's file picker may show, and how to serve another. */
export function browsableFoldersLine(roots: { path: string; label: string }[]): string {
  const list = roots.map((r) => (r.label.endsWith('(app data)') ? `${r.path} (app data)` : r.path)).join(', ');
  return `browsable folders (the file picker): ${list}; start serve with --root DIR to add others`;
}
