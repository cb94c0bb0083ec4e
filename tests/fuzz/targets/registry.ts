// Registry files: run/adapter/model/dataset manifests, labels.json, metrics.jsonl, index.json, comparison
// files and checkpoint state.json of a real data folder, each mutated (JSON values replaced, bytes edited,
// truncated, emptied or deleted). Listing, showing, the training state, metrics, crash recovery and reading
// the newest checkpoint must all keep working or refuse with a clear message naming the file.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import type { ApiErrorData } from '@shared/errors';
import { ApiError } from '@shared/errors';
import { createAppContext } from '../../../src/main/app/context';
import { listCheckpoints, readCheckpoint } from '../../../src/main/engine/train/checkpoint';
import { handlers } from '../../../src/main/handlers';
import { RunsStore } from '../../../src/main/registry/runs-store';
import { createDispatcher } from '../../../src/main/rpc/dispatch';
import { seedHome, type SeededHome } from '../lib/home-fixture';
import { mutatedBytes, mutatedJson } from '../lib/mutate';
import { ACCEPTED, defineTarget, rejected, type TargetContext } from '../lib/target';
import { assertSendable, CaseFailure, judgeError } from '../lib/verdict';

interface RegistryCase {
  edits: { file: string; content: Uint8Array | null }[];
}

const seeded = new WeakMap<TargetContext, SeededHome>();

/** Puts back only what the last case changed, so untouched entries keep their mtimes and index.json stamps
 * (the index then trusts its stored summaries: a damaged index.json is exercised as well). */
function restore(s: SeededHome): void {
  for (const [rel, bytes] of s.files) {
    const path = join(s.home, rel);
    let current: Buffer | null = null;
    try {
      current = readFileSync(path);
    } catch {
      mkdirSync(dirname(path), { recursive: true });
    }
    if (!current || !current.equals(bytes)) writeFileSync(path, bytes);
  }
}

export const registryTarget = defineTarget<RegistryCase>({
  name: 'registry',
  description:
    'manifests, labels, metrics.jsonl, index.json, comparisons and checkpoint state.json of a real data folder, mutated → list/show/state/metrics/recovery/readCheckpoint',
  maxCaseMs: 15_000,
  async setup(ctx) {
    seeded.set(ctx, await seedHome(ctx.tmp));
  },
  arbitrary: (ctx) => {
    const s = seeded.get(ctx)!;
    const names = [...s.files.keys()];
    const edit = fc.constantFrom(...names).chain((file) => {
      const bytes = s.files.get(file)!;
      const text = bytes.toString('utf8');
      const asJson = file.endsWith('.json')
        ? [JSON.parse(text)]
        : text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l));
      const jsonEdit = mutatedJson(asJson, ['status', 'pid', 'hostname', 'step', 'checkpoints', 'kinds', 'version', 'order', 'rng', 'cursor']).map(
        (doc) => new Uint8Array(Buffer.from(file.endsWith('.jsonl') ? `${text}${JSON.stringify(doc)}\n` : (JSON.stringify(doc) ?? ''))),
      );
      return fc.record({
        file: fc.constant(file),
        content: fc.oneof(
          { weight: 5, arbitrary: jsonEdit },
          { weight: 3, arbitrary: mutatedBytes([new Uint8Array(bytes)], ['"', '{', '}', ',', 'null', '\n', '"running"', '-1', '1e999']) },
          { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), new Uint8Array(bytes.subarray(0, Math.floor(bytes.length / 2)))) },
          { weight: 1, arbitrary: fc.constant(null) },
        ),
      });
    });
    return fc.record({ edits: fc.array(edit, { minLength: 1, maxLength: 3 }) });
  },
  describeInput: (c) => JSON.stringify(c.edits.map((e) => ({ file: e.file, content: e.content === null ? '(deleted)' : Buffer.from(e.content).toString('utf8').slice(0, 600) }))),
  async run(c, ctx) {
    const s = seeded.get(ctx)!;
    restore(s);
    for (const e of c.edits) {
      const path = join(s.home, e.file);
      if (e.content === null) rmSync(path, { force: true });
      else writeFileSync(path, e.content);
    }
    // A fresh app per case, as after a restart: it recovers dead runs and reloads comparisons.
    const app = createAppContext({ home: s.home, shell: 'headless', roots: [s.root] });
    const dispatch = createDispatcher(handlers, app);
    const calls: [string, unknown][] = [
      ['adapters.list', {}],
      ['adapters.list', { sort: 'metric:accuracy', order: 'asc' }],
      ['adapters.show', { kind: 'run', id: s.runId }],
      ['adapters.show', { kind: 'adapter', id: s.adapterId }],
      ['training.state', {}],
      ['training.metrics', { runId: s.runId }],
      ['models.list', {}],
      ['datasets.list', {}],
    ];
    const refusals: string[] = [];
    for (const [name, request] of calls) {
      const reply = await dispatch(name, request);
      assertSendable(reply, `the ${name} reply`);
      if (reply.ok) continue;
      const error = reply.error as ApiErrorData;
      // Listings must survive any one damaged entry; showing a damaged entry may refuse, clearly.
      if (name.endsWith('.list') || name === 'training.state') throw new CaseFailure('crash', `${name} failed on a damaged folder: ${error.code}: ${error.message}`);
      refusals.push(judgeError(ApiError.from(error), { needsFile: error.code === 'bad_file' }));
    }
    try {
      await new RunsStore(s.home).markInterrupted();
      const latest = listCheckpoints(new RunsStore(s.home).checkpointsDir(s.runId)).pop();
      if (latest) readCheckpoint(latest.dir);
    } catch (err) {
      refusals.push(judgeError(err, { needsFile: true }));
    }
    return refusals.length ? rejected(refusals[0]) : ACCEPTED;
  },
});
