// system.* handlers: thin adapters from validated requests to the SystemService.
import type { Handlers } from '@shared/contract';
import type { AppContext } from '../app/context';

type SystemHandlers = Pick<Handlers<AppContext>, 'system.info' | 'system.setBackend' | 'system.python'>;

export const systemHandlers: SystemHandlers = {
  'system.info': async (_req, ctx) => ctx.system.info(),
  'system.setBackend': async (req, ctx) => {
    const info = await ctx.system.setBackend(req.backend);
    ctx.events.emit('system.backendChanged', { backend: info.backend });
    return info;
  },
  // Imported on use: probing starts the Python (seconds), only when Settings asks.
  'system.python': async () => (await import('../services/training/torch-engine/python-env')).pythonStatus(),
};
