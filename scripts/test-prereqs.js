// What `npm test` needs beyond node_modules, set up before the runner that needs it: Debian's torch and the
// .venv for the Python interop tests, Chromium for the end-to-end tests. As root with apt-get it installs the
// missing packages itself; otherwise the runner fails with one line naming the command to run — a runner
// is never skipped for want of a prerequisite.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Debian packages behind python/setup-venv.sh (torch with OpenBLAS, numpy, venv). */
export const PYTHON_PACKAGES = ['python3-torch', 'libopenblas0-pthread', 'python3-venv', 'python3-numpy'];
export const CHROMIUM_PACKAGES = ['chromium'];
/** Where tests/e2e/serve-fixture.ts looks for Chromium when PREFIXLAB_CHROMIUM is unset. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const APT_INSTALL = ['install', '-y', '-qq', '--no-install-recommends'];
/** apt-get fetches ~1 GB for torch or Chromium on a fresh machine; never wait forever. */
const APT_TIMEOUT_MS = 30 * 60_000;
/** setup-venv.sh pip-installs the pinned requirements (a few hundred MB). */
const VENV_TIMEOUT_MS = 20 * 60_000;

/**
 * The decision, free of side effects: nothing missing → ok; missing and root with apt-get → install;
 * else fail with the command a person runs (sudo unless already root).
 */
export function decide({ missing, isRoot, hasApt }) {
  if (missing.length === 0) return { action: 'ok' };
  if (isRoot && hasApt) return { action: 'install', packages: missing };
  const command = `${isRoot ? '' : 'sudo '}apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  return { action: 'fail', command };
}

/** The real machine: dpkg for what is installed, apt-get to install, child processes with time limits. */
export function systemProbes(root) {
  const run = (command, argv, timeout) => {
    const r = spawnSync(command, argv, { cwd: root, stdio: 'inherit', timeout, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return r.error ? 1 : (r.status ?? 1);
  };
  const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
  return {
    env: process.env,
    exists: (path) => existsSync(path),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasApt: has('apt-get') && has('dpkg-query'),
    hasDpkg: has('dpkg-query'),
    /** Packages of `names` that dpkg does not list as installed. */
    missingPackages: (names) =>
      names.filter((name) => {
        const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8', timeout: 30_000 });
        return r.status !== 0 || !/install ok installed/.test(r.stdout);
      }),
    /** True when apt has never fetched its package lists (a fresh container): install would find nothing. */
    aptListsEmpty: () => {
      try {
        return !readdirSync('/var/lib/apt/lists').some((f) => f.endsWith('_Packages') || f.endsWith('_Packages.lz4'));
      } catch {
        return true;
      }
    },
    aptGet: (argv) => run('apt-get', argv, APT_TIMEOUT_MS),
    setupVenv: () => run('bash', [join(root, 'python/setup-venv.sh')], VENV_TIMEOUT_MS),
    log: (line) => console.log(line),
  };
}

/** Installs `packages` with apt-get (updating the lists first when empty, or once after a failed try). */
function aptInstall(packages, probes) {
  probes.log(`test prerequisites: installing ${packages.join(' ')} (apt-get)`);
  if (probes.aptListsEmpty() && probes.aptGet(['update', '-qq']) !== 0) return false;
  if (probes.aptGet([...APT_INSTALL, ...packages]) === 0) return true;
  return probes.aptGet(['update', '-qq']) === 0 && probes.aptGet([...APT_INSTALL, ...packages]) === 0;
}

/** Makes `packages` present where that can be done here; returns undefined when they are, else the failure line. */
function ensurePackages(packages, what, probes) {
  if (!probes.hasDpkg) return undefined; // not Debian: the caller's own check decides
  const missing = probes.missingPackages(packages);
  const verdict = decide({ missing, isRoot: probes.isRoot, hasApt: probes.hasApt });
  if (verdict.action === 'ok') return undefined;
  if (verdict.action === 'install') {
    if (aptInstall(verdict.packages, probes) && probes.missingPackages(packages).length === 0) return undefined;
    return `${what}: installing ${missing.join(' ')} with apt-get failed (see above); run \`apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}\``;
  }
  return `${what}: needs ${missing.join(', ')}; run \`${verdict.command}\``;
}

/**
 * The Python interop runner's prerequisites: Debian's torch stack (unless PREFIXLAB_PYTHON names another
 * interpreter) and an up-to-date .venv (setup-venv.sh returns at once when it is). Undefined when ready,
 * else the one line saying why not and what to run.
 */
export function ensurePython(probes) {
  const what = 'python interop';
  if (!probes.env.PREFIXLAB_PYTHON) {
    const problem = ensurePackages(PYTHON_PACKAGES, what, probes);
    if (problem) return problem;
  }
  if (probes.setupVenv() !== 0) return `${what}: \`bash python/setup-venv.sh\` failed (its reason is above); fix that, then rerun`;
  return undefined;
}

/** The end-to-end runner's Chromium: PREFIXLAB_CHROMIUM as given, else Debian's, installed when possible. */
export function ensureChromium(probes) {
  const what = 'end-to-end';
  const given = probes.env.PREFIXLAB_CHROMIUM;
  if (given) return probes.exists(given) ? undefined : `${what}: PREFIXLAB_CHROMIUM=${given} does not exist; point it at a Chromium binary or unset it to use /usr/bin/chromium`;
  if (CHROMIUM_PATHS.some((p) => probes.exists(p))) return undefined;
  if (!probes.hasDpkg) return `${what}: no Chromium at ${CHROMIUM_PATHS.join(' or ')}; install Chromium or set PREFIXLAB_CHROMIUM to its binary`;
  const problem = ensurePackages(CHROMIUM_PACKAGES, what, probes);
  if (problem) return problem;
  if (CHROMIUM_PATHS.some((p) => probes.exists(p))) return undefined;
  return `${what}: the chromium package is installed but ${CHROMIUM_PATHS.join(' and ')} are missing; set PREFIXLAB_CHROMIUM to its binary`;
}
