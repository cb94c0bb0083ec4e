// The full handler table: one entry per contract call. TypeScript checks that none is missing.
import type { Handlers } from '@shared/contract';
import type { AppContext } from '../app/context';
import { systemHandlers } from './system';
import { filesHandlers } from './files';
import { modelsHandlers } from './models';
import { methodsHandlers } from './methods';
import { datasetsHandlers } from './datasets';
import { trainingHandlers } from './training';
import { adaptersHandlers } from './adapters';
import { remoteHandlers } from './remote';

export const handlers: Handlers<AppContext> = {
  ...systemHandlers,
  ...filesHandlers,
  ...modelsHandlers,
  ...methodsHandlers,
  ...datasetsHandlers,
  ...trainingHandlers,
  ...adaptersHandlers,
  ...remoteHandlers,
};
