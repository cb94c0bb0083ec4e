// The references (PyTorch, the torch engine) run as a user runs them: with the C allocator's defaults, not the
// training process's settings that the benchmark itself runs under (bench/index.ts). Given the same settings,
// PyTorch never returns memory to the system and its peak RSS more than doubles (docs/performance.md, "The training process's allocator").

/** Where bench/index.ts keeps the GLIBC_TUNABLES it was started with ('' for none) when it sets its own. */
export const STARTED_WITH_TUNABLES = 'PREFIXLAB_BENCH_STARTED_WITH_GLIBC_TUNABLES';

/** process.env plus `extra`, with GLIBC_TUNABLES as it was before the benchmark set its own. */
export function referenceEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  const before = env[STARTED_WITH_TUNABLES];
  if (before === undefined) return env;
  delete env[STARTED_WITH_TUNABLES];
  if (before) env.GLIBC_TUNABLES = before;
  else delete env.GLIBC_TUNABLES;
  return env;
}
