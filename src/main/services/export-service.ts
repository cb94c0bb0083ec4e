// Export for the CLI (`prefixlab export ID --format peft|merged|ptplus --out DIR [--force] --json`) and the
// app: plain JSON in and out. See src/main/export/export-adapter.ts and docs/export.md.
import { ApiError } from '@shared/errors';
import type { MethodName } from '../engine/methods/method';
import { isMethodName } from '../engine/methods/registry';
import { EXPORT_FORMATS, exportAdapter as runExport, exportFormatsOf, type ExportFormat, type ExportRequest, type ExportResult } from '../export/export-adapter';
import { resolveExportSource } from '../export/source';

export type { ExportFormat, ExportRequest, ExportResult };
export { EXPORT_FORMATS, exportFormatsOf };

/**
 * Writes the adapter (or finished run) `id` as `format` into `outDir` and checks it by reloading: returns
 * {format, outDir, files, parity: {maxAbsDiff, inputs, ok}}. Throws a one-line ApiError on an unknown id
 * (not_found), an unfinished run (conflict), an existing outDir without force (already_exists), with force
 * one that is neither empty nor an earlier export (conflict), an outDir that is, contains or lies inside
 * what it must not touch (invalid_argument; see export/protected-paths.ts), an unwritable path (forbidden),
 * a format the method lacks (unsupported) or a failed check (parity_failed).
 */
export function exportAdapter(req: ExportRequest): Promise<ExportResult> {
  return runExport(req);
}

/** The formats an adapter or finished run can be exported to. */
export function exportFormatsFor(home: string, id: string): { method: MethodName; formats: readonly ExportFormat[] } {
  const source = resolveExportSource(home, id);
  if (!isMethodName(source.method)) throw new ApiError('unsupported', `unknown method ${source.method}`, { field: 'method' });
  return { method: source.method, formats: exportFormatsOf(source.method) };
}
