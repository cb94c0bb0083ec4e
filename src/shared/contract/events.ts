// Events pushed from main to every window/client.
import { z } from 'zod';

export const LogEventSchema = z.object({
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
  time: z.string(),
});

export const BackendChangedSchema = z.object({ backend: z.string() });

export const coreEvents = {
  log: LogEventSchema,
  'system.backendChanged': BackendChangedSchema,
};
