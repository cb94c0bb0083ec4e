// The app's test set (training.start testDatasetId): another imported dataset whose source file becomes every
// run's test file (RunSpec data.evalPath, as `--eval-data` on the CLI), read exactly as the job will read it — with
// the training dataset's task, mapping and template (engine/train/sources.ts readEvalExamples). Checked before
// anything is queued, so a bad choice is one line naming the dataset, not a run failing later.
import { existsSync } from 'node:fs';
import type { DatasetManifest } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { readEvalExamples, sha256File } from '../../engine/train/sources';
import { datasetDir, readManifest } from '../stored-datasets';

export interface TestDataset {
  id: string;
  name: string;
  /** The file the runs score: the test dataset's source file. */
  path: string;
  examples: number;
}

/**
 * The test dataset `testId` for a comparison on `train` (its folder `trainDir`), checked: it exists, is not the
 * training dataset, has the same task, its source file is still the one imported, it reads with the training
 * data's mapping, and (classification) each of its labels is one the training split trains on (`trainLabels`).
 */
export async function resolveTestDataset(home: string, train: DatasetManifest, trainDir: string, testId: string, trainLabels: readonly string[]): Promise<TestDataset> {
  const field = 'testDatasetId';
  if (testId === train.id) throw new ApiError('invalid_argument', `the test dataset is the training dataset "${train.name}"; pick another imported dataset`, { field });
  const dir = datasetDir(home, testId);
  const test = await readManifest(dir).catch(() => {
    throw new ApiError('not_found', `no imported dataset "${testId}" to test on`, { field });
  });
  if (test.task !== train.task) {
    throw new ApiError('invalid_argument', `test dataset "${test.name}" is a ${test.task} dataset, the training dataset "${train.name}" is ${train.task}`, { field });
  }
  // The runs read the source file (with the training data's mapping), so it must still be the file imported.
  const source = test.source.path;
  if (!existsSync(source)) {
    throw new ApiError('not_found', `the source file of test dataset "${test.name}" is gone (runs read the test set from it); import it again`, { file: source });
  }
  if ((await sha256File(source)) !== test.source.sha256) {
    throw new ApiError('conflict', `the source file of test dataset "${test.name}" changed since it was imported; import it again`, { file: source });
  }
  const examples = await readEvalExamples(source, trainDir);
  if (train.task === 'classification') {
    const known = new Set(trainLabels);
    const unknown = [...new Set(examples.flatMap((e) => (e.label !== undefined && !known.has(e.label) ? [e.label] : [])))];
    if (unknown.length) {
      throw new ApiError(
        'invalid_argument',
        `test dataset "${test.name}" has label${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''} that the training split of "${train.name}" never trains on`,
        { field },
      );
    }
  }
  return { id: test.id, name: test.name, path: source, examples: examples.length };
}
