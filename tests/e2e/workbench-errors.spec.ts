// The workbench when things go wrong: a dropped (uploaded) dataset with broken rows shows every problem
// with file, line and field, its import fails with a readable line and succeeds once invalid rows are left
// out; a path outside the served folders is refused in words; a long generation can be cancelled.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, rootArgs, sharedDir, test } from './serve-fixture';

const modelDir = join(sharedDir, 'models/stories260K-hf');
test.use({ serveArgs: rootArgs(join(sharedDir, 'models')) });

function brokenJsonl(): string {
  const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ text: `review number ${i} was ${i % 2 ? 'great' : 'awful'}`, label: i % 2 ? 'pos' : 'neg' }));
  rows.splice(3, 0, JSON.stringify({ text: '', label: 'pos' }));
  rows.splice(7, 0, 'this line is not json');
  rows.splice(9, 0, JSON.stringify({ label: 'neg' }));
  return `${rows.join('\n')}\n`;
}

test('an uploaded dataset with broken rows: problems with file/line/field, then import without them', async ({ app, consoleErrors }) => {
  await app.getByTestId('nav-datasets').click();
  await app.getByTestId('dataset-picker-upload').setInputFiles({ name: 'reviews.jsonl', mimeType: 'application/json', buffer: Buffer.from(brokenJsonl()) });

  await expect(app.getByTestId('dataset-status')).toHaveText('has errors');
  const errors = app.getByTestId('problem-error');
  await expect(errors).toHaveCount(3);
  await expect(errors.nth(0)).toContainText('reviews.jsonl');
  await expect(errors.nth(0)).toContainText('4');
  await expect(errors.nth(0)).toContainText('text is empty');
  await expect(errors.nth(1)).toContainText('not valid JSON');
  await expect(errors.nth(2)).toContainText('no value for text');
  await expect(app.getByTestId('dataset-problems')).toContainText('3 errors');

  await app.getByTestId('dataset-import').click();
  const importError = app.getByTestId('dataset-import-error');
  await expect(importError).toContainText('reviews.jsonl:4: text: text is empty');
  // No stack frame. Not `not.toContainText('    at ')`: Playwright normalises whitespace, so that failed whenever
  // the random temp folder's name held "at".
  expect(await importError.textContent()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  await app.screenshot({ path: 'test-results/screenshots/datasets-errors.png' });

  await app.getByTestId('dataset-exclude-invalid').check();
  await app.getByTestId('dataset-import').click();
  await expect(app.getByTestId('dataset-examples')).toContainText('20 of 23 rows (3 left out)');
  expect(consoleErrors).toEqual([]);
});

test('a path outside the served folders is refused in words', async ({ app, consoleErrors }) => {
  await app.getByTestId('nav-models').click();
  await app.getByTestId('model-picker-path').fill('/etc');
  await app.getByTestId('model-picker-path').press('Enter');
  const error = app.getByTestId('model-import-error');
  await expect(error).toContainText('outside the folders you picked');
  await expect(error).toContainText('path:');
  expect(consoleErrors).toEqual([]);
});

test('a long generation streams and can be cancelled', async ({ app, consoleErrors }) => {
  test.skip(!existsSync(modelDir), `shared model missing at ${modelDir}`);
  await app.getByTestId('nav-models').click();
  await app.getByTestId('model-picker-path').fill(modelDir);
  await app.getByTestId('model-picker-path').press('Enter');
  await expect(app.getByTestId('model-card')).toBeVisible();
  await app.getByTestId('gen-max-tokens').fill('480');
  await app.getByTestId('gen-run').click();
  await expect(app.getByTestId('gen-stats')).toContainText('tokens/s');
  await app.getByTestId('gen-cancel').click();
  await expect(app.getByTestId('gen-stats')).toContainText('stopped by you');
  expect(consoleErrors).toEqual([]);
});
