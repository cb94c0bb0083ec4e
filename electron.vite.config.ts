// Three builds: main (Electron entry + the `prefixlab` CLI + workers, dependencies left external),
// preload (one self-contained CommonJS file, as sandboxed preloads require) and the Vue renderer.
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';
import { resolve } from 'node:path';
import { contentSecurityPolicy } from './src/main/server/security-headers';

const alias = { '@shared': resolve(import.meta.dirname, 'src/shared') };

/**
 * The page's CSP <meta> tag, written from the one policy that serve mode and the app:// protocol also send as a
 * header (src/main/server/security-headers.ts), so the three cannot drift apart.
 */
export const cspMetaPlugin: Plugin = {
  name: 'prefixlab-csp-meta',
  transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy({ forMeta: true }) }, injectTo: 'head-prepend' }],
};

export default defineConfig({
  main: {
    resolve: { alias },
    build: {
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'src/main/index.ts'),
          cli: resolve(import.meta.dirname, 'src/main/cli/index.ts'),
          // The training process (forked per run, so training never blocks the app).
          'train-worker': resolve(import.meta.dirname, 'src/main/services/training/worker.ts'),
          // Model, tokenizer and dataset work for serve and the app (off their event loop, with time limits).
          'model-worker': resolve(import.meta.dirname, 'src/main/services/model-worker/worker.ts'),
          // A data-parallel replica: a share of every training step's rows in its own process (engine/train/replicas.ts).
          'replica-worker': resolve(import.meta.dirname, 'src/main/engine/train/replica-worker.ts'),
        },
      },
    },
  },
  preload: {
    resolve: { alias },
    build: {
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src/preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    base: './',
    resolve: { alias: { ...alias, '@renderer': resolve(import.meta.dirname, 'src/renderer/src') } },
    plugins: [vue(), cspMetaPlugin],
    build: {
      // electron-vite leaves the renderer unminified; the chart chunk alone was 1.4 MB that way.
      minify: true,
      rollupOptions: { input: resolve(import.meta.dirname, 'src/renderer/index.html') },
    },
  },
});
