// A tfjs-node package folder without its compiled binding (what npm leaves when the install could not
// download libtensorflow) is reported unavailable with the reason, and is never required: requiring it
// would register its kernels first and flood stderr with "already registered" lines. Its own file: the
// probe results are cached per process, and Vitest runs each file in its own fork.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-no-binding-'));
const pkg = join(tmp, 'tfjs-node');
const marker = join(tmp, 'required.txt');
mkdirSync(join(pkg, 'dist'), { recursive: true });
writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node', main: 'dist/index.js' }));
// Were it required, it would leave this mark.
writeFileSync(join(pkg, 'dist/index.js'), `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'required');`);

const previous = process.env.PREFIXLAB_TFJS_NODE;
process.env.PREFIXLAB_TFJS_NODE = pkg;
const { probeBackends } = await import('./backend');
afterAll(() => {
  if (previous === undefined) delete process.env.PREFIXLAB_TFJS_NODE;
  else process.env.PREFIXLAB_TFJS_NODE = previous;
  rmSync(tmp, { recursive: true, force: true });
});

describe('a native package without its binding', () => {
  it('is reported unavailable with the reason and never loaded', async () => {
    const statuses = await probeBackends();
    const tensorflow = statuses.find((s) => s.name === 'tensorflow');
    expect(tensorflow).toEqual({ name: 'tensorflow', available: false, reason: `${pkg} has no compiled native binding (lib/napi-v*/tfjs_binding.node)` });
    expect(existsSync(marker)).toBe(false);
  });
});
