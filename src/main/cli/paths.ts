// Where the built renderer lives, whether we run from the bundle (out/main) or from source (tests).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function rendererDir(): string {
  if (process.env.PREFIXLAB_RENDERER_DIR) return resolve(process.env.PREFIXLAB_RENDERER_DIR);
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../renderer'), join(here, '../../../out/renderer')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}
