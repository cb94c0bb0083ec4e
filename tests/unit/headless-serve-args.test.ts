// `npm start` without Electron serves headless with the user's home folder browsable (unless they chose
// roots), so the file picker can reach a model folder on a new machine.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const { headlessServeArgs } = (await import(pathToFileURL(join(root, 'scripts/headless-serve-args.js')).href)) as {
  headlessServeArgs(args: string[], home?: string): string[];
};

describe('npm start, headless: serve arguments', () => {
  it("adds the home folder as a root by default, keeping the user's own arguments", () => {
    expect(headlessServeArgs([], '/home/ada')).toEqual(['--root', '/home/ada']);
    expect(headlessServeArgs(['--port', '9000', '--retry-electron'], '/home/ada')).toEqual(['--port', '9000', '--root', '/home/ada']);
  });

  it('leaves the roots to the user when they name any', () => {
    expect(headlessServeArgs(['--root', '/data'], '/home/ada')).toEqual(['--root', '/data']);
    expect(headlessServeArgs(['--root=/data'], '/home/ada')).toEqual(['--root=/data']);
  });

  it('defaults to os.homedir()', async () => {
    const { homedir } = await import('node:os');
    expect(headlessServeArgs([])).toEqual(['--root', homedir()]);
  });
});
