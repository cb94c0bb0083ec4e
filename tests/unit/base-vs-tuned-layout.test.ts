// Column widths need a layout engine: the table (rendered by Vue's server renderer) and its own scoped CSS are
// laid out in Debian's Chromium, the browser the end-to-end tests use; skipped with the reason where it is absent.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSSRApp } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { compileStyle, parse } from 'vue/compiler-sfc';
import { chromium } from '@playwright/test';
import BaseVsTunedTable from '../../src/renderer/src/components/train/BaseVsTunedTable.vue';

const chromiumPath = process.env.PREFIXLAB_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// Beside the other cross-module tests: it needs Node and a browser, which the renderer's own files may not import.
const here = resolve(import.meta.dirname, '../../src/renderer/src/components/train');

/** The app's base CSS and the component's <style scoped>, compiled for the scope id the rendered HTML carries. */
function stylesFor(html: string): string {
  const scopeId = /data-v-[0-9a-f]+/.exec(html)?.[0];
  if (!scopeId) throw new Error('the table rendered no scope attribute');
  const sfc = parse(readFileSync(resolve(here, 'BaseVsTunedTable.vue'), 'utf8')).descriptor;
  const own = sfc.styles.map((s) => compileStyle({ source: s.content, filename: 'BaseVsTunedTable.vue', id: scopeId, scoped: s.scoped }).code);
  return [readFileSync(resolve(here, '../../styles/base.css'), 'utf8'), ...own].join('\n');
}

describe('BaseVsTunedTable', () => {
  it.skipIf(!chromiumPath)(
    `a long unbroken output wraps; Base and Tuned keep equal widths${chromiumPath ? '' : ' (no Chromium at /usr/bin/chromium or PREFIXLAB_CHROMIUM)'}`,
    async () => {
      const long = 'x'.repeat(600);
      const html = await renderToString(createSSRApp(BaseVsTunedTable, { rows: [{ prompt: 'Once upon a time', base: long, tuned: 'there was a cat.' }] }));
      expect(html).toContain(long);
      const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
        await page.setContent(`<html><head><style>${stylesFor(html)}</style></head><body><div id="box" style="width: 600px">${html}</div></body></html>`);
        const measured = await page.evaluate(() => {
          type Box = { getBoundingClientRect(): { width: number }; scrollWidth: number };
          const doc = (globalThis as unknown as { document: { querySelector(s: string): Box; querySelectorAll(s: string): ArrayLike<Box> } }).document;
          return {
            cells: Array.from(doc.querySelectorAll('tbody td'), (td) => td.getBoundingClientRect().width),
            table: doc.querySelector('table').getBoundingClientRect().width,
            box: doc.querySelector('#box').scrollWidth,
          };
        });
        const [, base, tuned] = measured.cells;
        expect(Math.abs(base - tuned)).toBeLessThan(1);
        expect(measured.table).toBeLessThanOrEqual(600);
        expect(measured.box).toBeLessThanOrEqual(600);
      } finally {
        await browser.close();
      }
    },
  );
});
