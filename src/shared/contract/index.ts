// THE API: every call the renderer can make and every event it can receive, declared once.
// Electron IPC, the headless WebSocket server, the renderer's client and the CLI all derive from this.
import { systemCalls } from './system';
import { filesCalls } from './calls/files';
import { modelsCalls, modelsEvents } from './calls/models';
import { methodsCalls } from './calls/methods';
import { datasetsCalls, datasetsEvents } from './calls/datasets';
import { trainingCalls, trainingEvents } from './calls/training';
import { adaptersCalls } from './calls/adapters';
import { remoteCalls } from './calls/remote';
import { coreEvents } from './events';
import type { ApiOf, CallSpec, HandlerRequest, HandlerResponse } from './define';

export const CALLS = {
  ...systemCalls,
  ...filesCalls,
  ...modelsCalls,
  ...methodsCalls,
  ...datasetsCalls,
  ...trainingCalls,
  ...adaptersCalls,
  ...remoteCalls,
} as const;

export const EVENTS = {
  ...coreEvents,
  ...modelsEvents,
  ...datasetsEvents,
  ...trainingEvents,
} as const;

export type Calls = typeof CALLS;
export type Events = typeof EVENTS;
export type CallName = keyof Calls & string;
export type EventName = keyof Events & string;
export type PrefixLabApi = ApiOf<Calls, Events>;

/** The handler table main implements: one plain function per call, no transport inside. */
export type Handlers<Ctx> = {
  [K in CallName]: (request: HandlerRequest<Calls[K]>, ctx: Ctx) => Promise<HandlerResponse<Calls[K]>>;
};

export function isCallName(name: string): name is CallName {
  return Object.prototype.hasOwnProperty.call(CALLS, name);
}

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(EVENTS, name);
}

export type { CallSpec };
export * from './system';
export * from './calls/files';
export * from './calls/models';
export * from './calls/methods';
export * from './calls/datasets';
export * from './calls/training';
export * from './calls/adapters';
export * from './calls/remote';
export * from './datasets';
export * from './training';
