// The C allocator settings a training process starts with. A training step allocates and frees the same large
// buffers every step: TensorFlow's tensors, and the float32 arrays a quantized base dequantizes into. glibc serves
// blocks over its mmap threshold (at most 32 MiB by default) with fresh mappings and unmaps them on free, so each
// step faults every page of them in again; on this project's machines that costs about 1 ms per MiB, more than
// computing into them (docs/performance.md, "The allocator"). With the threshold raised and trimming put off, freed
// blocks stay in the heap and the next step reuses them. The process is the run's own and exits when the run ends,
// so keeping its high-water mark costs nothing afterwards.
//
// GLIBC_TUNABLES is read once, when a process starts, so it is set in the environment the training process is
// started with; glibc elsewhere ignores what it does not know, and other C libraries ignore the variable.

/** Blocks up to 4 GiB come from the heap instead of their own mappings. */
export const MMAP_THRESHOLD_BYTES = 2 ** 32 - 1;
/** Free memory at the heap's top is kept up to 16 GiB instead of returned at once. */
export const TRIM_THRESHOLD_BYTES = 2 ** 34;

const SETTINGS: Record<string, number> = {
  'glibc.malloc.mmap_threshold': MMAP_THRESHOLD_BYTES,
  'glibc.malloc.trim_threshold': TRIM_THRESHOLD_BYTES,
};

/**
 * The environment entries to add for a training process on `platform`: GLIBC_TUNABLES on Linux with our malloc
 * settings after whatever the user's own GLIBC_TUNABLES holds (a setting the user made is kept as it is).
 * PREFIXLAB_ALLOCATOR=default leaves the allocator alone. Empty elsewhere.
 */
export function trainingAllocatorEnv(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Record<string, string> {
  if (platform !== 'linux' || env.PREFIXLAB_ALLOCATOR === 'default') return {};
  const own = (env.GLIBC_TUNABLES ?? '').split(':').filter(Boolean);
  const named = new Set(own.map((entry) => entry.split('=')[0]));
  const added = Object.entries(SETTINGS)
    .filter(([name]) => !named.has(name))
    .map(([name, value]) => `${name}=${value}`);
  if (!added.length) return {};
  return { GLIBC_TUNABLES: [...own, ...added].join(':') };
}
