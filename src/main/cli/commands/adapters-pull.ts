// `prefixlab adapters pull ID --from URL`: a finished adapter from a remote `prefixlab serve` into this
// machine's registry (services/remote/adapter-pull.ts). The token comes from --token or PREFIXLAB_REMOTE_TOKEN
// (the environment keeps it out of shell history and `ps`); it is never printed.
import { ApiError } from '@shared/errors';
import type { Command } from '../command';
import { bootstrap } from '../bootstrap';
import { pullAdapter } from '../../services/remote/adapter-pull';

export const adaptersPullCommand: Command = {
  name: 'adapters pull',
  summary: 'Download a finished adapter from a remote `prefixlab serve` into the local registry',
  usage: 'prefixlab adapters pull ID --from URL [--token T | env PREFIXLAB_REMOTE_TOKEN] [--home DIR] [--json]',
  options: { from: { type: 'string' }, token: { type: 'string' } },
  async run(args) {
    const app = await bootstrap(args);
    const id = args.positionals[0];
    if (!id || args.positionals.length > 1) throw new ApiError('invalid_argument', 'give exactly one adapter id: prefixlab adapters pull ID --from URL', { field: 'ID' });
    const from = args.values.from as string | undefined;
    if (!from) throw new ApiError('invalid_argument', 'give the remote server: --from https://HOST[:PORT] (or http://127.0.0.1:PORT through an SSH tunnel)', { field: '--from' });
    const token = (args.values.token as string | undefined) ?? process.env.PREFIXLAB_REMOTE_TOKEN;
    if (!token) throw new ApiError('invalid_argument', 'give the remote token: --token T or the environment variable PREFIXLAB_REMOTE_TOKEN', { field: '--token' });
    const result = await pullAdapter({ home: app.options.home, url: from, token, adapterId: id });
    const what = result.status === 'identical' ? 'already here (identical)' : `pulled ${result.bytes} bytes`;
    const line = `adapter ${result.id} (${result.method}, "${result.name}") from ${result.from}: ${what}, sha256 ${result.sha256.slice(0, 12)}…`;
    // generate/logits/eval take --model DIR and match the base by its files' sha256; export loads the recorded path.
    const note = result.baseModelFound
      ? ''
      : `\nnote: its base model ${result.baseModelPath ?? '(none recorded)'} is not on this machine: use --model DIR with generate/logits/eval (the base is matched by sha256); export needs the base at that path`;
    return { json: result, text: line + note };
  },
};
