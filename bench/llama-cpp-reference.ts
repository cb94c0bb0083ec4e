// llama.cpp (node-llama-cpp's prebuilt CPU binary) as the inference reference of `npm run bench -- generate`
// on the real GGUF models: the same prompt ids, the same number of new tokens, greedy, the same thread count,
// with the model's own quantized weights. It runs in a child process so that its peak RSS is its own and its
// ggml thread pool never shares a process with TensorFlow's.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(import.meta.dirname, '..');

export interface LlamaCppRequest {
  modelPath: string;
  promptIds: number[];
  newTokens: number;
  threads: number;
  /** The prompt's text: when given, the result says whether llama.cpp's tokenizer gives the same ids. */
  promptText?: string;
  /** Our tokenizer's ids of promptText without special tokens, compared with llama.cpp's. */
  textIds?: number[];
}

export interface LlamaCppResult {
  name: 'llama.cpp';
  /** node-llama-cpp's version and the llama.cpp release its binary was built from. */
  version: string;
  threads: number;
  promptTokensPerSecond: number;
  tokensPerSecond: number;
  peakRssBytes: number;
  /** The greedy ids (newTokens + 1: the first comes with the prefill). */
  ids: number[];
  /** Whether llama.cpp tokenizes promptText to textIds (absent when no text was given). */
  sameTokenization?: boolean;
}

/** How many of the first `count` greedy ids two runs share, and where they first part. */
export function greedyAgreement(ours: number[], theirs: number[], count = 16): { compared: number; matching: number; firstMismatch: number | null } {
  const compared = Math.min(count, ours.length, theirs.length);
  let matching = 0;
  let firstMismatch: number | null = null;
  for (let i = 0; i < compared; i++) {
    if (ours[i] === theirs[i]) matching++;
    else firstMismatch ??= i;
  }
  return { compared, matching, firstMismatch };
}

/** Runs llama.cpp in this process: one warm-up, then a timed greedy generation of newTokens + 1 ids. */
export async function runLlamaCpp(req: LlamaCppRequest): Promise<LlamaCppResult> {
  // Imported here: the binding loads a native library, which only the child process (or a test) needs.
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  type Token = Parameters<import('node-llama-cpp').LlamaModel['detokenize']>[0][number];
  // build 'never': use the prebuilt binary or fail; never compile or download one.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: req.threads });
  const model = await llama.loadModel({ modelPath: req.modelPath, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: req.promptIds.length + req.newTokens + 8,
    batchSize: Math.max(req.promptIds.length, 1),
    threads: { ideal: req.threads, min: req.threads },
    sequences: 1,
  });
  try {
    const sequence = context.getSequence();
    const prompt = req.promptIds as Token[];
    // Returns the time to the first id (prefill) and to the last; the ids come from argmax (temperature 0).
    const generate = async (count: number) => {
      await sequence.clearHistory();
      const ids: number[] = [];
      const start = performance.now();
      let firstAt = start;
      for await (const token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
        if (ids.length === 0) firstAt = performance.now();
        ids.push(token);
        if (ids.length >= count) break;
      }
      return { ids, prefillMs: firstAt - start, decodeMs: performance.now() - firstAt };
    };
    await generate(3); // warm-up: first allocations, thread pool start
    const run = await generate(req.newTokens + 1);
    let sameTokenization: boolean | undefined;
    if (req.promptText !== undefined && req.textIds) {
      const theirs = model.tokenize(req.promptText, false);
      sameTokenization = theirs.length === req.textIds.length && theirs.every((id, i) => id === req.textIds![i]);
    }
    return {
      name: 'llama.cpp',
      version: `node-llama-cpp ${await packageVersion()}, llama.cpp ${llama.llamaCppRelease.release}`,
      threads: req.threads,
      promptTokensPerSecond: (prompt.length / Math.max(run.prefillMs, 1e-6)) * 1000,
      tokensPerSecond: (req.newTokens / Math.max(run.decodeMs, 1e-6)) * 1000,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ids: run.ids,
      ...(sameTokenization === undefined ? {} : { sameTokenization }),
    };
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

async function packageVersion(): Promise<string> {
  // node-llama-cpp's "exports" do not list package.json, so it is read from its folder.
  const { readFileSync } = await import('node:fs');
  const pkg = resolve(repoRoot, 'node_modules/node-llama-cpp/package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

const thisFile = fileURLToPath(import.meta.url);

/**
 * Runs runLlamaCpp in a child process (tsx, this file) with a time limit; the result, or the one-line reason
 * it failed.
 */
export function llamaCppReference(req: LlamaCppRequest, timeoutMs = 900_000): LlamaCppResult | { error: string } {
  const result = spawnSync(process.execPath, [resolve(repoRoot, 'node_modules/tsx/dist/cli.mjs'), thisFile], {
    input: JSON.stringify(req),
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 4 * 2 ** 20,
    cwd: repoRoot,
  });
  if (result.error || result.status !== 0) {
    const why = result.error ? String(result.error) : (result.stderr.trim().split('\n').slice(-1)[0] ?? `exit status ${String(result.status)}`);
    return { error: `llama.cpp reference failed on ${req.modelPath}: ${why}` };
  }
  const last = result.stdout.trim().split('\n').slice(-1)[0] ?? '';
  try {
    return JSON.parse(last) as LlamaCppResult;
  } catch {
    return { error: `llama.cpp reference on ${req.modelPath} printed no result (last line: ${last.slice(0, 200)})` };
  }
}

// As the child: the request on stdin, the result as the last line of stdout.
if (process.argv[1] && resolve(process.argv[1]) === thisFile) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    const result = await runLlamaCpp(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LlamaCppRequest);
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
