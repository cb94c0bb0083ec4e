// The workbench end to end, in one `prefixlab serve` and one browser page shared by serial steps: import
// stories260K and generate; import SST-2 and read its statistics; compare Prefix-Tuning+ and LoRA on a tiny
// budget with live curves, cancel and resume one run, read the results; the Adapters view; the playground with
// a finished run's adapter attached; a reload that reattaches; last, the models found on this computer (serve runs with a fake HOME whose Hugging Face cache and
// Ollama store hold the tiny fixture models) imported with one click, and a chat. Screenshots of every view go
// to test-results/screenshots/.
import type { Browser, Page } from '@playwright/test';
import { chromium } from '@playwright/test';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFakeStores, type FakeStores } from './fake-model-stores';
import { chromiumExecutable, expect, rootArgs, sharedDir, startServe, stopServe, test, type ServeHandle } from './serve-fixture';

const modelDir = join(sharedDir, 'models/stories260K-hf');
const sst2 = join(sharedDir, 'datasets/sst2/dev_from_glue_train.tsv');
const missing = [modelDir, sst2].filter((p) => !existsSync(p));
const SHOTS = 'test-results/screenshots';

test.describe.configure({ mode: 'serial' });

let serve: ServeHandle;
let storesDir: string;
let stores: FakeStores;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

/** The browser's globals, typed just enough for page.evaluate (this file compiles without the DOM library). */
type BrowserGlobals = {
  document: { querySelector(selector: string): { scrollHeight: number } | null };
  requestAnimationFrame(fn: () => void): void;
  getComputedStyle(el: unknown): { backgroundColor: string };
};

/** The whole view, however long: grow the viewport to the content, shoot, shrink back. */
async function shoot(name: string): Promise<void> {
  const height = await page.evaluate(() => ((globalThis as unknown as BrowserGlobals).document.querySelector('.content')?.scrollHeight ?? 800) + 40);
  await page.setViewportSize({ width: 1360, height: Math.min(Math.max(860, height), 6000) });
  // Charts resize on the next frames.
  await page.evaluate(
    () =>
      new Promise((done) =>
        (globalThis as unknown as BrowserGlobals).requestAnimationFrame(() => (globalThis as unknown as BrowserGlobals).requestAnimationFrame(() => done(null))),
      ),
  );
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
  await page.setViewportSize({ width: 1360, height: 860 });
}

test.beforeAll(async () => {
  test.skip(missing.length > 0, `shared files missing: ${missing.join(', ')}`);
  mkdirSync(SHOTS, { recursive: true });
  storesDir = mkdtempSync(join(tmpdir(), 'prefixlab-e2e-stores-'));
  stores = makeFakeStores(storesDir);
  serve = await startServe(rootArgs(sharedDir), stores.env);
  browser = await chromium.launch({ executablePath: chromiumExecutable(), args: ['--no-sandbox', '--disable-gpu'] });
  page = await (await browser.newContext({ viewport: { width: 1360, height: 860 } })).newPage();
  page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  await page.goto(serve.url);
});

test.afterAll(async () => {
  await browser?.close();
  if (serve) stopServe(serve);
  if (storesDir) rmSync(storesDir, { recursive: true, force: true });
});

test('Models: import stories260K, read its card, stream a generation', async () => {
  await page.getByTestId('nav-models').click();
  await expect(page.getByText('No models yet')).toBeVisible();
  await shoot('models-empty');
  const picker = page.getByTestId('model-picker');
  await picker.locator('[data-name="models"]').click();
  await picker.locator('[data-name="stories260K-hf"]').click();
  await picker.getByTestId('model-picker-use-folder').click();
  await expect(page.getByTestId('model-card-parameters')).toHaveText('260,032');
  await expect(page.getByTestId('model-card-layers')).toHaveText('5');
  await expect(page.getByTestId('model-card-heads')).toContainText('8');
  await expect(page.getByTestId('model-card-kv-heads')).toContainText('4');
  await expect(page.getByTestId('model-card-context')).toContainText('512');
  await expect(page.getByTestId('model-card-memory')).toContainText('1016 KiB');

  await page.getByTestId('gen-max-tokens').fill('48');
  await page.getByTestId('gen-temperature').fill('0');
  await page.getByTestId('gen-run').click();
  await expect(page.getByTestId('gen-stats')).toContainText('stopped by');
  await expect(page.getByTestId('gen-output')).toContainText('Once upon a time,');
  expect((await page.getByTestId('gen-output').innerText()).length).toBeGreaterThan(60);
  await shoot('models');
});

test('Datasets: inspect SST-2, name its labels, see problems, charts and tokens, import it', async () => {
  await page.getByTestId('nav-datasets').click();
  await expect(page.getByText('No dataset open')).toBeVisible();
  const picker = page.getByTestId('dataset-picker');
  await picker.locator('[data-name="datasets"]').click();
  await picker.locator('[data-name="sst2"]').click();
  await picker.locator('[data-name="dev_from_glue_train.tsv"]').click();

  await expect(page.getByTestId('dataset-status')).toHaveText('valid');
  await expect(page.getByTestId('dataset-detected-task')).toHaveText('classification');
  await expect(page.getByTestId('dataset-rows')).toHaveText('6,735');
  await expect(page.getByTestId('dataset-encoding')).toContainText('utf-8');
  await expect(page.getByTestId('mapping-text')).toHaveValue('sentence');
  await expect(page.getByTestId('label-count-1')).toContainText('3,741');
  const warning = page.getByTestId('problem-warning').first();
  await expect(warning).toContainText('duplicate');
  await expect(warning).toContainText('dev_from_glue_train.tsv');

  for (const [label, name] of [
    ['0', 'negative'],
    ['1', 'positive'],
  ]) {
    await page.getByTestId(`label-name-${label}`).fill(name);
    await page.getByTestId(`label-name-${label}`).press('Tab');
  }
  await page.getByTestId('template-prompt').fill('Review: {{text}}\nSentiment:');
  await expect(page.getByTestId('template-rendered')).toContainText('Review: the expressive power of the camera');
  await expect(page.getByTestId('template-rendered')).toContainText('positive');
  // Labels stay editable under their file values once named.
  await expect(page.getByTestId('label-name-0')).toHaveValue('negative');

  await page.getByTestId('dataset-tokenizer').selectOption({ label: 'stories260K-hf' });
  await expect(page.getByTestId('token-length-stats')).toContainText('median');
  await page.getByTestId('template-rendered').getByRole('button', { name: 'Tokens' }).first().click();
  const strip = page.getByTestId('token-strip');
  await expect(strip.locator('[data-kind="prompt"]').first()).toBeVisible();
  await expect(strip.locator('[data-kind="target"]').first()).toBeVisible();
  // Masked prompt tokens look different from trained target tokens.
  const [promptBg, targetBg] = await Promise.all(
    ['prompt', 'target'].map((kind) =>
      strip
        .locator(`[data-kind="${kind}"]`)
        .first()
        .evaluate((el) => (globalThis as unknown as BrowserGlobals).getComputedStyle(el).backgroundColor),
    ),
  );
  expect(promptBg).not.toBe(targetBg);
  await shoot('datasets-inspect');

  await page.getByTestId('dataset-name').fill('sst2');
  await page.getByTestId('dataset-import').click();
  await expect(page.getByTestId('dataset-details')).toBeVisible();
  await expect(page.getByTestId('dataset-examples')).toContainText('6,735');
  await expect(page.getByTestId('split-row-default')).toContainText('6,062');

  await page.getByTestId('stored-split-method').selectOption('kshot');
  await page.getByTestId('stored-split-k').fill('16');
  await page.getByTestId('split-create').click();
  await expect(page.getByTestId('split-row-k16-seed0')).toContainText('negative: 16, positive: 16');
  await shoot('datasets');
});

test('Train & Compare: PT+ vs LoRA with live curves, cancel and resume, results', async () => {
  test.setTimeout(240_000);
  await page.getByTestId('nav-train').click();
  const setup = page.getByTestId('compare-setup');
  await expect(setup).toBeVisible();
  await expect(page.getByTestId('method-toggle-ptplus')).toBeChecked();
  await expect(page.getByTestId('estimate-ptplus')).toContainText('2,560 trainable');
  await page.getByTestId('method-toggle-lora').check();
  await expect(page.getByTestId('estimate-lora')).toContainText('trainable');
  // The estimate follows the options: rank 4 halves LoRA's parameters.
  const loraBefore = await page.getByTestId('estimate-lora').innerText();
  await page.getByTestId('method-lora').getByLabel('Rank').fill('4');
  await expect(page.getByTestId('estimate-lora')).not.toHaveText(loraBefore);
  await expect(page.getByTestId('estimate-lora')).toContainText('4,480 trainable');

  await page.getByTestId('setup-split').selectOption('k16-seed0');
  await page.getByTestId('setup-steps').fill('40');
  await page.getByTestId('setup-seeds').fill('0');
  await page.getByTestId('setup-eval-every').fill('5');
  await page.getByTestId('setup-batch').fill('4');
  await page.getByTestId('setup-max-length').fill('32');
  await page.getByTestId('setup-eval-examples').fill('16');
  await page.getByTestId('setup-checkpoint').fill('10');
  await shoot('train-setup');
  await page.getByTestId('launch').click();

  const ptplus = page.getByTestId('run-row-ptplus');
  const lora = page.getByTestId('run-row-lora');
  await expect(ptplus).toBeVisible();
  await expect(lora.getByTestId('run-status')).toHaveText(/waiting|loading|running/);
  // PT+ trains first; cancel it after a few steps (it stops after the step and keeps a checkpoint).
  await expect(ptplus.getByTestId('run-steps')).toHaveText(/^([2-9]|[1-3][0-9]) \/ 40$/, { timeout: 120_000 });
  const curvePoints = async (): Promise<number> => Number((await page.getByTestId('curves-summary').innerText()).split(' ')[0]);
  expect(await curvePoints()).toBeGreaterThan(0);
  await ptplus.getByTestId('run-cancel').click();
  await expect(ptplus.getByTestId('run-status')).toHaveText('cancelled', { timeout: 60_000 });

  // LoRA runs next; its curve joins PT+'s.
  await expect(lora.getByTestId('run-status')).toHaveText('running', { timeout: 60_000 });
  await expect(page.getByTestId('curves-summary')).toContainText('2 runs', { timeout: 60_000 });
  await shoot('train-running');
  await expect(lora.getByTestId('run-status')).toHaveText('finished', { timeout: 120_000 });

  // Resume PT+ from its checkpoint; it finishes the remaining steps.
  await ptplus.getByTestId('run-resume').click();
  await expect(ptplus.getByTestId('run-status')).toHaveText('finished', { timeout: 120_000 });
  await expect(ptplus.getByTestId('run-steps')).toHaveText('40 / 40');

  const results = page.getByTestId('results-table');
  await expect(results.getByTestId('result-ptplus')).toContainText('2.6k');
  await expect(results.getByTestId('result-lora')).toContainText('4.5k');
  await expect(results.getByTestId('result-ptplus')).toContainText('%');
  await expect(results.locator('td.best').first()).toBeVisible();

  // Series toggles and the tokens-seen axis.
  const before = await curvePoints();
  await page.getByTestId('toggle-train-loss').uncheck();
  expect(await curvePoints()).toBeLessThan(before);
  await page.getByTestId('toggle-train-loss').check();
  await page.getByTestId('toggle-run-lora').uncheck();
  await expect(page.getByTestId('curves-summary')).toContainText('over 1 run.');
  await page.getByTestId('toggle-run-lora').check();
  await page.getByTestId('curves-x').selectOption('tokensSeen');

  await expect(page.getByTestId('diff-table')).toContainText('method');
  await expect(page.getByTestId('diff-table')).toContainText('options.');
  await page.getByTestId('bvt-run-button').click();
  await expect(page.getByTestId('bvt-table')).toContainText('Once upon a time');
  await expect(page.getByTestId('diagnostics-ptplus')).toContainText('mean per layer', { timeout: 60_000 });
  await shoot('train-results');
});

test('Adapters: finished runs are listed with provenance', async () => {
  await page.getByTestId('nav-adapters').click();
  await expect(page.getByTestId('adapter-row')).toHaveCount(2);
  await page.getByTestId('adapter-filter-method').selectOption('ptplus');
  await expect(page.getByTestId('adapter-row')).toHaveCount(1);
  await page.getByTestId('adapter-row').first().click();
  await expect(page.getByTestId('adapter-provenance')).toContainText('stories260K-hf');
  await expect(page.getByTestId('adapter-provenance')).toContainText('/datasets/sst2-');
  await expect(page.getByTestId('adapter-provenance')).toContainText('32 train');

  // Save it as an adapter with a tag, then export it into the app folder and check the reload parity.
  await page.getByTestId('save-adapter').click();
  await expect(page.getByTestId('details-kind')).toHaveText('adapter');
  await page.getByTestId('tag-input').fill('e2e');
  await page.getByTestId('tag-input').press('Enter');
  await expect(page.getByTestId('labels-editor')).toContainText('e2e');
  const exporter = page.getByTestId('export-dialog');
  await exporter.getByTestId('export-picker-root').selectOption(realpathSync(serve.home));
  await exporter.getByTestId('export-picker-use-folder').click();
  await exporter.getByTestId('export-run').click();
  await expect(exporter.getByTestId('export-result')).toContainText('Reloaded and matched', { timeout: 60_000 });
  await page.getByTestId('adapter-filter-method').selectOption('');
  await expect(page.getByTestId('adapter-row')).toHaveCount(3);
  await shoot('adapters');
});

test("Models: the playground generates with a finished run's adapter, and the text differs from the base's", async () => {
  await page.getByTestId('nav-models').click();
  await expect(page.getByTestId('model-card-parameters')).toHaveText('260,032');
  // The select lists the saved adapter and both finished runs, all made on stories260K.
  const select = page.getByTestId('gen-adapter');
  await expect(select.locator('option')).toHaveCount(4);
  await page.getByTestId('gen-prompt').fill('Review: a gorgeous, witty, seductive movie.\nSentiment:');
  await page.getByTestId('gen-max-tokens').fill('4');
  await page.getByTestId('gen-temperature').fill('0');
  await select.selectOption('');
  await page.getByTestId('gen-run').click();
  await expect(page.getByTestId('gen-output-by')).toHaveText('Generated by base model');
  await expect(page.getByTestId('gen-stats')).toContainText('stopped by');
  const base = await page.getByTestId('gen-output').innerText();

  const lora = (await select.locator('option').allInnerTexts()).find((label) => label.includes('(run, lora)'));
  expect(lora, 'the finished LoRA run is offered').toBeTruthy();
  await select.selectOption({ label: lora! });
  await page.getByTestId('gen-run').click();
  await expect(page.getByTestId('gen-output-by')).toHaveText(`Generated by ${lora}`);
  await expect(page.getByTestId('gen-stats')).toContainText('stopped by');
  const tuned = await page.getByTestId('gen-output').innerText();
  expect(tuned).toContain('Sentiment:');
  expect(tuned).not.toBe(base);
  await shoot('models-adapter');
  await select.selectOption('');
});

test('state survives a reload, and the dark theme renders every view', async () => {
  await page.reload();
  await page.getByTestId('nav-train').click();
  await expect(page.getByTestId('run-row-ptplus').getByTestId('run-status')).toHaveText('finished');
  await expect(page.getByTestId('curves-summary')).not.toContainText(/^0 points/);
  await page.getByTestId('nav-settings').click();
  await page.locator('#theme-select').selectOption('dark');
  for (const view of ['datasets', 'models', 'train', 'adapters']) {
    await page.getByTestId(`nav-${view}`).click();
    if (view === 'train') await expect(page.getByTestId('diagnostics-ptplus')).toContainText('mean per layer', { timeout: 60_000 });
    if (view === 'adapters') await page.getByTestId('adapter-row').first().click();
    await shoot(`${view}-dark`);
  }
  await page.getByTestId('nav-settings').click();
  await page.locator('#theme-select').selectOption('light');
  expect(consoleErrors).toEqual([]);
});

test('Models: found on this computer, imported with one click, and a chat through the template', async () => {
  await page.getByTestId('nav-models').click();
  const found = page.getByTestId('found-table');
  const llama = found.locator('[data-testid="found-row"][data-name="prefixlab/llama-gqa"]');
  await expect(llama.getByTestId('found-source')).toHaveText('Hugging Face cache');
  await expect(llama.getByTestId('found-family')).toHaveText('llama');
  await expect(llama.getByTestId('found-quantization')).toHaveText('F32 ×21');
  await expect(llama).toContainText(stores.llamaSnapshot);
  const broken = found.locator('[data-testid="found-row"][data-name="missing-blob:latest"]');
  await expect(broken.getByTestId('found-source')).toHaveText('Ollama');
  await expect(broken.getByTestId('found-reason')).toContainText('this manifest names is missing');
  await expect(broken.getByTestId('found-import')).toHaveCount(0);

  // One click: registered in place (the cache lies outside the served folders), its card opens.
  await llama.getByTestId('found-import').click();
  await expect(llama.getByTestId('found-open')).toBeVisible();
  await expect(page.getByTestId('model-card')).toContainText('prefixlab/llama-gqa');
  await expect(page.getByTestId('model-card')).toContainText(stores.llamaSnapshot);
  await expect(page.getByTestId('model-card-layers')).toHaveText('2');
  await expect(page.getByTestId('gen-chat-toggle')).toHaveCount(0); // no chat template

  const qwen = found.locator('[data-testid="found-row"][data-name="prefixlab/qwen2-chat"]');
  await qwen.getByTestId('found-import').click();
  await expect(qwen.getByTestId('found-open')).toBeVisible();
  await expect(page.getByTestId('model-card')).toContainText('qwen2');
  await page.getByTestId('gen-chat-toggle').check();
  await page.getByTestId('gen-max-tokens').fill('6');
  await page.getByTestId('gen-temperature').fill('0');
  await page.getByTestId('chat-input').fill('Once upon a time');
  await page.getByTestId('chat-send').click();
  const messages = page.getByTestId('chat-message');
  await expect(messages).toHaveCount(2);
  await expect(messages.nth(0)).toHaveAttribute('data-role', 'user');
  await expect(messages.nth(0)).toContainText('Once upon a time');
  await expect(messages.nth(1)).toHaveAttribute('data-role', 'assistant');
  await expect(page.getByTestId('gen-stats')).toContainText('stopped by');
  await page.getByTestId('chat-input').fill('And then?');
  await page.getByTestId('chat-send').click();
  await expect(messages).toHaveCount(4);
  await shoot('models-found');
  await page.getByTestId('chat-clear').click();
  await expect(messages).toHaveCount(0);

  // Rescan marks both as imported.
  await page.getByTestId('found-rescan').click();
  await expect(found.getByTestId('found-open')).toHaveCount(2);
  expect(consoleErrors).toEqual([]);
});
