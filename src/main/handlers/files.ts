// files.* handlers: the headless folder browser, dropped-file uploads, and the desktop's native file dialog.
import type { Handlers } from '@shared/contract';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';

type FilesHandlers = Pick<Handlers<AppContext>, 'files.roots' | 'files.list' | 'files.upload' | 'files.pickFile'>;

export const filesHandlers: FilesHandlers = {
  'files.roots': async (_req, ctx) => ({ roots: ctx.files.roots() }),
  'files.list': async (req, ctx) => ctx.files.list(req.path),
  'files.upload': async (req, ctx) => ctx.files.upload(req),
  'files.pickFile': async (req, ctx) => {
    if (!ctx.dialogs) {
      throw new ApiError('unsupported', 'there is no native file dialog in the headless app; browse the served folders or drop the file instead');
    }
    const path = await ctx.dialogs.pickFile(req);
    // What the user picked in a native dialog is theirs to use: let later calls read it.
    if (path !== null) ctx.paths.allow(path);
    return { path };
  },
};
