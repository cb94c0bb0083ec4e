// remote.* and adapters.pull: thin adapters over services/remote. Connecting is for the desktop app (its
// main process forwards calls, src/main/index.ts); a browser on `prefixlab serve` opens the remote's own URL.
import type { Handlers } from '@shared/contract';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { pullAdapter } from '../services/remote/adapter-pull';
import { remoteConnectionFor } from '../services/remote/remote-connection';

type RemoteHandlers = Pick<Handlers<AppContext>, 'remote.status' | 'remote.connect' | 'remote.disconnect' | 'adapters.pull'>;

export const remoteHandlers: RemoteHandlers = {
  'remote.status': async (_req, ctx) => remoteConnectionFor(ctx).status(),
  'remote.connect': async (req, ctx) => {
    if (ctx.options.shell !== 'electron') {
      throw new ApiError('unsupported', 'connecting to a remote server is for the desktop app; in a browser, open the URL the remote `prefixlab serve` printed', { field: 'url' });
    }
    return remoteConnectionFor(ctx).connect(req.url, req.token);
  },
  'remote.disconnect': async (_req, ctx) => remoteConnectionFor(ctx).disconnect(),
  'adapters.pull': async (req, ctx) => {
    const { url, token } = req.url !== undefined && req.token !== undefined ? { url: req.url, token: req.token } : remoteConnectionFor(ctx).credentials();
    return pullAdapter({ home: ctx.options.home, url, token, adapterId: req.adapterId });
  },
};
