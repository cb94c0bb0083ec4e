// The Electron shell's dispatcher while Settings' "Remote PrefixLab" is connected: every call but remote.* and
// adapters.pull goes to that server (services/remote/remote-connection.ts); the shell may not import services.
import type { Dispatch } from '../rpc/dispatch';
import { remoteConnectionFor } from '../services/remote/remote-connection';
import type { AppContext } from './context';

export function routeToRemoteWhenConnected(ctx: AppContext, local: Dispatch): Dispatch {
  return remoteConnectionFor(ctx).route(local);
}
