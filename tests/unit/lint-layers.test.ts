// The layers are ESLint rules (eslint.config.js, run by `npm run lint` in CI): each src/ folder imports only the folders
// below it. These lint small snippets placed in the tree through ESLint's own API, so they show the rules that CI
// runs refusing a violating import and passing a clean one.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

/** A module that exists in a src/main folder (imports must resolve for the rule to place them), as a path from `from`. */
function someModule(folder: string): string {
  const name = readdirSync(join(root, 'src/main', folder)).find((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  if (!name) throw new Error(`no module in src/main/${folder}`);
  return name.replace(/\.ts$/, '');
}

/** ESLint's messages for `code` as if it were the file at `filePath`: "line rule: message". */
async function lint(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result!.messages.map((m) => `${m.line} ${m.ruleId}: ${m.message}`);
}

describe('layer rules (eslint.config.js)', () => {
  it('refuses the engine importing a service', async () => {
    const service = someModule('services');
    const messages = await lint('src/main/engine/layer-probe.ts', `import * as s from '../services/${service}';\nexport const probe = s;\n`);
    expect(messages).toEqual([
      `1 boundaries/dependencies: src/main/engine may not import src/main/services ('../services/${service}'): LAYERS in eslint.config.js says what each folder may import`,
    ]);
  });

  it('refuses Node in the renderer and tfjs in shared/', async () => {
    expect(await lint('src/renderer/src/layer-probe.ts', `import { readFileSync } from 'node:fs';\nexport const probe = readFileSync;\n`)).toEqual([
      "1 boundaries/dependencies: src/renderer runs where there is no Node or tfjs: it may not import 'node:fs'",
    ]);
    expect(await lint('src/shared/layer-probe.ts', `import * as tf from '@tensorflow/tfjs';\nexport const probe = tf;\n`)).toEqual([
      "1 boundaries/dependencies: src/shared runs where there is no Node or tfjs: it may not import '@tensorflow/tfjs'",
    ]);
  });

  it('refuses a handler reaching past the services into the engine, and electron outside its glue', async () => {
    const engine = someModule('engine');
    const messages = await lint('src/main/handlers/layer-probe.ts', `import * as e from '../engine/${engine}';\nimport { app } from 'electron';\nexport const probe = [e, app];\n`);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatch(/^1 boundaries\/dependencies: src\/main\/handlers may not import src\/main\/engine /);
    expect(messages[1]).toMatch(/^2 no-restricted-imports: .*only the Electron glue imports electron/);
  });

  it('lets a handler name the AppContext type but not import app/ code', async () => {
    const code = `import type { AppContext } from '../app/context';\nimport { createAppContext } from '../app/context';\nexport const probe: [AppContext | null, unknown] = [null, createAppContext];\n`;
    const messages = await lint('src/main/handlers/layer-probe.ts', code);
    expect(messages).toEqual([
      "2 boundaries/dependencies: src/main/handlers may not import src/main/app ('../app/context'): LAYERS in eslint.config.js says what each folder may import",
    ]);
  });

  it('refuses a local import it cannot place in a layer (it would escape the rule)', async () => {
    expect(await lint('src/main/engine/layer-probe.ts', `import * as x from '../services/no-such-module';\nexport const probe = x;\n`)).toEqual([
      '1 boundaries/no-unknown-dependencies: Dependencies to unknown elements and files are not allowed',
    ]);
  });

  it('passes imports that follow the layers: the engine using shared/, tfjs, Node and itself; a test wiring layers together', async () => {
    const engine = someModule('engine');
    const clean = `import * as tf from '@tensorflow/tfjs';\nimport { readFile } from 'node:fs/promises';\nimport { ApiError } from '@shared/errors';\nimport * as e from './${engine}';\nexport const probe = [tf, readFile, ApiError, e];\n`;
    expect(await lint('src/main/engine/layer-probe.ts', clean)).toEqual([]);
    const service = someModule('services');
    expect(await lint('src/main/engine/layer-probe.test.ts', `import * as s from '../services/${service}';\nexport const probe = s;\n`)).toEqual([]);
  });

  it('gives every folder of src/main a layer of its own', async () => {
    const config = (await eslint.calculateConfigForFile(join(root, 'src/main/index.ts'))) as { settings: Record<string, unknown> };
    const elements = config.settings['boundaries/elements'] as { type: string; pattern: string }[];
    const folders = readdirSync(join(root, 'src/main'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `src/main/${e.name}`);
    expect(folders.filter((f) => !elements.some((e) => e.pattern === f))).toEqual([]);
  });
});
