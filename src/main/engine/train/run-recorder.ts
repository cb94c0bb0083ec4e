// Where a training job records its run: the manifest, the progress events and the checkpoint folder. The
// job is handed one (the app passes the registry's runs store, registry/runs-store.ts; tests may pass their
// own) so the engine never reaches up into the registry. Exactly the calls runTrainJob makes.
import type { RunManifest, TrainProgress } from '@shared/contract/training';

export interface RunRecorder {
  /** A fresh run id for `method` (used when the job's spec names none). */
  newRunId(method: string): string;
  /** The run's folder (what the job reports as runDir). */
  runDir(runId: string): string;
  /** Where the trainer writes the run's checkpoints (step-NNNNNN folders). */
  checkpointsDir(runId: string): string;
  /** Records a new run; fails if it exists. The checkpoints folder exists afterwards. */
  create(manifest: RunManifest): Promise<unknown>;
  /** The recorded manifest; an ApiError (not_found, bad_file) naming the run otherwise. */
  read(runId: string): RunManifest;
  /** Read-modify-write of the manifest; resolves to what was written. */
  update(runId: string, change: (manifest: RunManifest) => RunManifest | void): Promise<RunManifest>;
  /** Appends one progress event. */
  appendMetrics(runId: string, point: TrainProgress): void;
  /** Drops progress events after `step` (a resumed run repeats the steps its last checkpoint did not keep). */
  truncateMetrics(runId: string, step: number): Promise<void>;
}
