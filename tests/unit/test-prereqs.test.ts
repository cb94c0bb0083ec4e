// `npm test`'s prerequisites (scripts/test-prereqs.js) with the machine faked: as root with apt-get it installs
// what is missing, otherwise the runner fails with one line naming the command; nothing is skipped.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Probes {
  env: Record<string, string | undefined>;
  exists(path: string): boolean;
  isRoot: boolean;
  hasApt: boolean;
  hasDpkg: boolean;
  missingPackages(names: string[]): string[];
  aptListsEmpty(): boolean;
  aptGet(argv: string[]): number;
  setupVenv(): number;
  log(line: string): void;
}
type Decision = { action: 'ok' } | { action: 'install'; packages: string[] } | { action: 'fail'; command: string };
interface Prereqs {
  decide(input: { missing: string[]; isRoot: boolean; hasApt: boolean }): Decision;
  ensurePython(probes: Probes): string | undefined;
  ensureChromium(probes: Probes): string | undefined;
  PYTHON_PACKAGES: string[];
}

const root = resolve(import.meta.dirname, '../..');
const prereqs = (await import(pathToFileURL(join(root, 'scripts/test-prereqs.js')).href)) as Prereqs;
const { decide, ensureChromium, ensurePython, PYTHON_PACKAGES } = prereqs;

/** A fake machine: `installed` packages and `files`; apt-get install adds packages (and Chromium's binary). */
function machine(opts: {
  installed?: string[];
  files?: string[];
  isRoot?: boolean;
  hasApt?: boolean;
  listsEmpty?: boolean;
  aptFails?: boolean;
  venv?: number;
  env?: Record<string, string>;
}) {
  const installed = new Set(opts.installed ?? []);
  const files = new Set(opts.files ?? []);
  const calls: string[] = [];
  let listsEmpty = opts.listsEmpty ?? false;
  const probes: Probes = {
    env: opts.env ?? {},
    exists: (path) => files.has(path),
    isRoot: opts.isRoot ?? false,
    hasApt: opts.hasApt ?? true,
    hasDpkg: true,
    missingPackages: (names) => names.filter((n) => !installed.has(n)),
    aptListsEmpty: () => listsEmpty,
    aptGet: (argv) => {
      calls.push(`apt-get ${argv.join(' ')}`);
      if (argv[0] === 'update') {
        listsEmpty = false;
        return 0;
      }
      if (opts.aptFails || listsEmpty) return 100;
      for (const pkg of argv.filter((a) => !a.startsWith('-') && a !== 'install')) {
        installed.add(pkg);
        if (pkg === 'chromium') files.add('/usr/bin/chromium');
      }
      return 0;
    },
    setupVenv: () => {
      calls.push('setup-venv');
      return opts.venv ?? 0;
    },
    log: () => undefined,
  };
  return { probes, calls, installed };
}

describe('test prerequisites: the decision', () => {
  it('nothing missing is ok; root with apt installs; anyone else gets the command (sudo unless root)', () => {
    expect(decide({ missing: [], isRoot: false, hasApt: false })).toEqual({ action: 'ok' });
    expect(decide({ missing: ['chromium'], isRoot: true, hasApt: true })).toEqual({ action: 'install', packages: ['chromium'] });
    expect(decide({ missing: ['chromium'], isRoot: false, hasApt: true })).toEqual({ action: 'fail', command: 'sudo apt-get install -y --no-install-recommends chromium' });
    expect(decide({ missing: ['python3-torch'], isRoot: true, hasApt: false })).toEqual({ action: 'fail', command: 'apt-get install -y --no-install-recommends python3-torch' });
  });
});

describe('test prerequisites: python interop', () => {
  it('with everything installed it only refreshes the venv (setup-venv.sh is idempotent)', () => {
    const m = machine({ installed: PYTHON_PACKAGES });
    expect(ensurePython(m.probes)).toBeUndefined();
    expect(m.calls).toEqual(['setup-venv']);
  });

  it('as root with apt-get it installs the missing Debian packages, updating empty lists first, then builds the venv', () => {
    const m = machine({ installed: ['python3-numpy'], isRoot: true, listsEmpty: true });
    expect(ensurePython(m.probes)).toBeUndefined();
    expect(m.calls).toEqual(['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread python3-venv', 'setup-venv']);
  });

  it('as a user it fails with one line naming the exact command, and does not touch the venv', () => {
    const m = machine({ installed: ['python3-numpy', 'python3-venv'] });
    expect(ensurePython(m.probes)).toBe(
      'python interop: needs python3-torch, libopenblas0-pthread; run `sudo apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread`',
    );
    expect(m.calls).toEqual([]);
  });

  it('a failing apt-get or setup-venv.sh is a failure naming what to run', () => {
    const apt = machine({ isRoot: true, aptFails: true });
    expect(ensurePython(apt.probes)).toMatch(
      /^python interop: installing python3-torch .* with apt-get failed \(see above\); run `apt-get update && apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread python3-venv python3-numpy`$/,
    );
    expect(apt.calls.filter((c) => c.startsWith('apt-get install'))).toHaveLength(2); // retried once after an update
    const venv = machine({ installed: PYTHON_PACKAGES, venv: 1 });
    expect(ensurePython(venv.probes)).toBe('python interop: `bash python/setup-venv.sh` failed (its reason is above); fix that, then rerun');
  });

  it('PREFIXLAB_PYTHON (another interpreter) skips the Debian packages and goes to setup-venv.sh', () => {
    const m = machine({ env: { PREFIXLAB_PYTHON: '/opt/py/bin/python3' } });
    expect(ensurePython(m.probes)).toBeUndefined();
    expect(m.calls).toEqual(['setup-venv']);
  });
});

describe('test prerequisites: Chromium for end-to-end', () => {
  it('uses /usr/bin/chromium when present and checks PREFIXLAB_CHROMIUM when set', () => {
    expect(ensureChromium(machine({ files: ['/usr/bin/chromium'] }).probes)).toBeUndefined();
    expect(ensureChromium(machine({ files: ['/opt/chrome'], env: { PREFIXLAB_CHROMIUM: '/opt/chrome' } }).probes)).toBeUndefined();
    expect(ensureChromium(machine({ files: ['/usr/bin/chromium'], env: { PREFIXLAB_CHROMIUM: '/nope' } }).probes)).toBe(
      'end-to-end: PREFIXLAB_CHROMIUM=/nope does not exist; point it at a Chromium binary or unset it to use /usr/bin/chromium',
    );
  });

  it('installs it as root with apt-get, else fails naming the command', () => {
    const root = machine({ isRoot: true });
    expect(ensureChromium(root.probes)).toBeUndefined();
    expect(root.calls).toEqual(['apt-get install -y -qq --no-install-recommends chromium']);
    const user = machine({});
    expect(ensureChromium(user.probes)).toBe('end-to-end: needs chromium; run `sudo apt-get install -y --no-install-recommends chromium`');
    expect(user.calls).toEqual([]);
  });
});
