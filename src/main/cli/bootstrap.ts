// Shared start-up for CLI commands: data folder, backend choice, services.
import { createAppContext, type AppContext } from '../app/context';
import { resolveHome } from '../app/home';
import { initBackend, isBackendName } from '../engine/backend';
import { ApiError } from '@shared/errors';
import type { ParsedArgs } from './command';

export async function bootstrap(args: ParsedArgs, extra: { roots?: string[] } = {}): Promise<AppContext> {
  const home = resolveHome(args.values.home as string | undefined);
  const backend = args.values.backend as string | undefined;
  if (backend !== undefined && backend !== 'auto' && !isBackendName(backend)) {
    throw new ApiError('invalid_argument', `unknown backend "${backend}" (use auto, tensorflow-gpu, tensorflow, wasm or cpu)`, { field: '--backend' });
  }
  try {
    await initBackend((backend as Parameters<typeof initBackend>[0]) ?? 'auto');
  } catch (err) {
    throw new ApiError('unsupported', err instanceof Error ? err.message : String(err), { field: '--backend' });
  }
  return createAppContext({ home, shell: 'headless', roots: extra.roots });
}
