// Building blocks of the API contract: a call is a request schema and a response schema; an event is a
// payload schema. Types and run-time validation both come from these one declarations.
import type { z } from 'zod';

export interface CallSpec<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  request: Req;
  response: Res;
  /** One line for people: what the call does. */
  doc: string;
}

export function call<Req extends z.ZodType, Res extends z.ZodType>(request: Req, response: Res, doc: string): CallSpec<Req, Res> {
  return { request, response, doc };
}

export type CallTable = Record<string, CallSpec>;
export type EventTable = Record<string, z.ZodType>;

/** "domain.method" → "domain". */
type DomainOf<K> = K extends `${infer D}.${string}` ? D : never;

/** The request type a caller passes (zod input: defaults may be left out). Empty requests are optional. */
// `{} extends T` asks "may this request be empty?": here `{}` is the point, not a lax object type.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type RequestArg<S extends CallSpec> = {} extends z.input<S['request']> ? [request?: z.input<S['request']>] : [request: z.input<S['request']>];

export type Unsubscribe = () => void;

/** The client-side API generated from a contract: api.domain.method(request) → Promise<response>. */
export type ApiOf<C extends CallTable, E extends EventTable> = {
  [D in DomainOf<keyof C & string>]: {
    [K in keyof C & string as K extends `${D}.${infer M}` ? M : never]: (...args: RequestArg<C[K]>) => Promise<z.output<C[K]['response']>>;
  };
} & {
  /** Subscribe to an event stream; returns the function that unsubscribes. */
  on<N extends keyof E & string>(event: N, listener: (payload: z.output<E[N]>) => void): Unsubscribe;
};

/** What a handler in main receives (validated, defaults filled) and must return. */
export type HandlerRequest<S extends CallSpec> = z.output<S['request']>;
export type HandlerResponse<S extends CallSpec> = z.input<S['response']>;
