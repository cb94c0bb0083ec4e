// The full handler table: one entry per contract call. TypeScript checks that none is missing.
import type { Handlers } from '@shared/contract';
import type { AppContext } from '../app/context';
import { systemHandlers } from './system';

export const handlers: Handlers<AppContext> = {
  ...systemHandlers,
};
