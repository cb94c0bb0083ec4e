// methods.* handlers: the method registry as forms (JSON Schema) and the cost of one configuration
// (services/method-service.ts).
import type { Handlers } from '@shared/contract';
import type { AppContext } from '../app/context';
import { estimateMethod, listMethods } from '../services/method-service';

type MethodsHandlers = Pick<Handlers<AppContext>, 'methods.list' | 'methods.estimate'>;

export const methodsHandlers: MethodsHandlers = {
  'methods.list': async () => listMethods(),

  'methods.estimate': async (req, ctx) => {
    const entry = await ctx.models.get(req.modelId);
    return estimateMethod(entry.path, req.method, req.options, req.batchSize, req.maxLength, req.quantizedBase);
  },
};
