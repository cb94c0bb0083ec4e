// The process the crash harness kills while it writes registry entries: turns a finished run into an adapter
// (adapter folder assembled in a hidden temp folder, then renamed) and exports it as PEFT (temp folder,
// reload-parity check, rename). Messages: → {type:'ready'} · ← {home, runId, outDir} · → {type:'done'}.
import { createAdapterFromRun } from '../../../src/main/registry/adapter-store';
import { exportAdapter } from '../../../src/main/services/export-service';
import { initBackend } from '../../../src/main/engine/backend';

process.on('message', (raw: unknown) => {
  const { home, runId, outDir } = raw as { home: string; runId: string; outDir: string };
  void (async () => {
    const adapter = await createAdapterFromRun(home, runId);
    process.send?.({ type: 'adapter', id: adapter.id });
    await exportAdapter({ home, id: adapter.id, format: 'peft', outDir });
    process.send?.({ type: 'done' }, undefined, {}, () => process.exit(0));
  })().catch((err: unknown) => {
    process.send?.({ type: 'error', message: err instanceof Error ? err.message : String(err) }, undefined, {}, () => process.exit(1));
  });
});

await initBackend('cpu');
process.send?.({ type: 'ready' });
