// remote.*: the desktop app working on another machine's `prefixlab serve` (URL + token in Settings; every
// other call then goes there), and adapters.pull: a finished adapter downloaded from such a server into the
// local registry. The token is write-only: no response ever carries it.
import { z } from 'zod';
import { call } from '../define';

const AdapterIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not an adapter id');
/** https://HOST[:PORT][/prefix] or wss://…; plain http/ws only to a loopback host (an SSH tunnel). Checked in main. */
const RemoteUrlSchema = z.string().min(1).max(2048);
const TokenSchema = z.string().min(1).max(512);

export const RemoteStatusSchema = z.object({
  /** True while calls go to the remote server. */
  connected: z.boolean(),
  /** The saved server URL (origin and path prefix; never the token), or null. */
  url: z.string().nullable(),
  /** "host:port[/prefix]", what the header shows, or null. */
  label: z.string().nullable(),
  /** The last connection problem, one line, or null. */
  error: z.string().nullable(),
});
export type RemoteStatus = z.infer<typeof RemoteStatusSchema>;

export const PullResultSchema = z.object({
  id: z.string(),
  name: z.string(),
  method: z.string(),
  /** 'pulled': written now; 'identical': this exact adapter was already in the local registry. */
  status: z.enum(['pulled', 'identical']),
  bytes: z.number(),
  sha256: z.string(),
  from: z.string(),
  /** The base model path the remote recorded, and whether it exists on this machine (export loads the base from there). */
  baseModelPath: z.string().nullable(),
  baseModelFound: z.boolean(),
});

export const remoteCalls = {
  'remote.status': call(z.object({}).strict(), RemoteStatusSchema, 'Whether the app works on a remote PrefixLab server now, and which.'),
  'remote.connect': call(
    z.object({ url: RemoteUrlSchema, token: TokenSchema }).strict(),
    RemoteStatusSchema,
    'Check the URL and token against the remote server, save them in the settings and send every further call there (desktop app only).',
  ),
  'remote.disconnect': call(z.object({}).strict(), RemoteStatusSchema, 'Work on this machine again (the saved URL stays, the token is forgotten).'),
  'adapters.pull': call(
    z
      .object({ url: RemoteUrlSchema.optional(), token: TokenSchema.optional(), adapterId: AdapterIdSchema })
      .strict()
      .refine((req) => (req.url === undefined) === (req.token === undefined), { message: 'give both url and token, or neither (the connected remote)', path: ['token'] }),
    PullResultSchema,
    "Download a finished adapter (manifest and tensors, sha256-checked) from a remote PrefixLab server (url + token, or the connected one) into this machine's registry.",
  ),
};
