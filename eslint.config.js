// ESLint (flat config): the recommended rules of ESLint, typescript-eslint and eslint-plugin-vue, Prettier's
// conflicting style rules off (Prettier formats; `npm run lint` checks both), and the layers as import rules.
//
// The layers (eslint-plugin-boundaries): a folder may import only the folders named under it in LAYERS, plus itself.
// Lower layers never import upper ones, so the engine stays usable by a second front end (the CLI, a worker, the
// next training engine). Test files (`*.test.ts`) and test helpers (TEST_FILES) may import across layers; shipped code may not.
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import boundaries from 'eslint-plugin-boundaries';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

/** Folder → the path pattern that makes a file part of it (relative to the repository root). */
const ELEMENTS = {
  shared: 'src/shared', // the zod contract and what every process shares: no Node, no tfjs, no Electron
  platform: 'src/main/platform', // Node utilities every main-process layer may use: atomic writes, system errors, process identity
  engine: 'src/main/engine', // TensorFlow.js: backends, models, methods, training
  datasets: 'src/main/datasets', // dataset files: readers, scans, splits, token statistics
  registry: 'src/main/registry', // runs and adapters on disk
  export: 'src/main/export', // adapter export formats and their parity check
  services: 'src/main/services', // what handlers call
  handlers: 'src/main/handlers', // one function per contract call
  rpc: 'src/main/rpc', // dispatch and the event bus
  ipc: 'src/main/ipc', // Electron transport
  server: 'src/main/server', // headless transport
  cli: 'src/main/cli', // `prefixlab`
  app: 'src/main/app', // the context wiring (composition root) and the app shell's helpers
  shell: 'src/main', // the rest of src/main: the Electron entry (index.ts) and its window; a new folder gets its own entry here
  preload: 'src/preload',
  renderer: 'src/renderer',
};

/**
 * Which folders each folder may import (besides itself). The chain, lowest first: shared ← platform ← datasets ← engine
 * ← registry ← export ← services ← handlers ← rpc ← ipc, server, cli, app, shell. Handlers reach the engine only
 * through services; app/ wires everything together (the composition root), so only the entry points import it.
 */
const LAYERS = {
  shared: [],
  platform: ['shared'],
  engine: ['shared', 'platform', 'datasets'],
  datasets: ['shared', 'platform'], // and engine/io: see dependencyPolicies
  registry: ['shared', 'platform', 'engine', 'datasets'],
  export: ['shared', 'platform', 'engine', 'datasets', 'registry'],
  services: ['shared', 'platform', 'engine', 'datasets', 'registry', 'export'],
  handlers: ['shared', 'platform', 'services'],
  rpc: ['shared', 'platform', 'handlers'],
  ipc: ['shared', 'platform', 'rpc'],
  server: ['shared', 'platform', 'rpc'],
  cli: ['shared', 'platform', 'engine', 'datasets', 'registry', 'export', 'services', 'handlers', 'rpc', 'server', 'app'],
  app: ['shared', 'platform', 'engine', 'datasets', 'registry', 'export', 'services', 'handlers', 'rpc', 'server'],
  shell: ['shared', 'platform', 'app', 'handlers', 'rpc', 'ipc'],
  preload: ['shared'],
  renderer: ['shared'],
};

/** Files allowed to import 'electron': the app lifecycle, its window, the IPC binding, the preload. */
const ELECTRON_GLUE = ['src/main/index.ts', 'src/main/window.ts', 'src/main/ipc/bind.ts', 'src/preload/index.ts'];

/** Test code: may import any layer (it wires real pieces together); Node and tfjs stay out of the renderer and shared/ tests too. */
const TEST_FILES = ['**/*.test.ts', '**/testing/**', 'src/main/engine/test-paths.ts', 'src/main/engine/train/test-fixtures.ts'];

/** What shared/ (imported by every process), the renderer and the preload (sandboxed pages) may not import. */
const NO_NODE = [{ module: { origin: 'core' } }, { module: { source: '@tensorflow/*' } }];

const LAYER_MESSAGE = "{{from.elementPath}} may not import {{to.elementPath}} ('{{dependency.source}}'): LAYERS in eslint.config.js says what each folder may import";
const NO_NODE_MESSAGE = "{{from.elementPath}} runs where there is no Node or tfjs: it may not import '{{dependency.source}}'";

// The last policy that matches an import decides; an import no policy matches is refused.
const dependencyPolicies = [
  { allow: { to: { module: { origin: ['external', 'core'] } } } },
  { allow: { to: { file: { categories: 'manifest' } } } }, // package.json: data, bundled at build time
  ...Object.entries(LAYERS).map(([from, to]) => ({ from: { element: { type: from } }, allow: { to: { element: { type: [from, ...to] } } } })),
  // A handler receives the AppContext (its services) as a parameter: it may name that type, nothing else from app/.
  { from: { element: { type: 'handlers' } }, allow: { to: { element: { type: 'app' } }, dependency: { kind: 'type' } } },
  { from: { file: { categories: 'test' } }, allow: { to: { module: { origin: 'local' } } } },
  // Dataset code measures token lengths with the engine's tokenizer (engine/io), and uses nothing else of the engine.
  { from: { element: { type: 'datasets' } }, allow: { to: { element: { type: 'engine', fileInternalPath: 'io/**' } } } },
  { from: { element: { type: ['shared', 'renderer', 'preload'] } }, disallow: { to: NO_NODE }, message: NO_NODE_MESSAGE },
];

export default defineConfig(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test-results/**',
      'playwright-report/**',
      '.venv/**',
      '.venv-bench/**',
      '.native/**',
      '.scratch/**',
      '.tmp/**',
      'bench-results/**',
      'tests/fixtures/**',
      'python/**',
      'resources/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Type-only imports say so (`import type`), so the bundler and the layer rules can tell them apart.
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.{ts,vue}'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': Object.entries(ELEMENTS).map(([type, pattern]) => ({ type, pattern, partialMatch: false })),
      // package.json: the app's version is read from it.
      'boundaries/files': [...TEST_FILES.map((pattern) => ({ category: 'test', pattern })), { category: 'manifest', pattern: 'package.json' }],
      'import/resolver': { typescript: { project: ['tsconfig.node.json', 'tsconfig.web.json'], noWarnOnMultipleProjects: true } },
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', checkAllOrigins: true, message: LAYER_MESSAGE, policies: dependencyPolicies }],
      // A local import the resolver cannot place would escape the layer rule: refuse it instead.
      'boundaries/no-unknown-dependencies': 'error',
    },
  },
  {
    // Playwright reads a fixture's dependencies from its first parameter's destructuring: `async ({}, use)` means none.
    files: ['tests/e2e/**'],
    rules: { 'no-empty-pattern': ['error', { allowObjectPatternsAsParameters: true }] },
  },
  {
    // Electron only in its glue (see ELECTRON_GLUE).
    files: ['src/**/*.{ts,vue}'],
    ignores: ELECTRON_GLUE,
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'only the Electron glue imports electron (eslint.config.js ELECTRON_GLUE)' }] }],
    },
  },
  prettier,
);
