// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: ExportDialog } = await import('./ExportDialog.vue');
const { useAdaptersStore, parentFolder } = await import('../../stores/adapters');

const HOME = '/home/u/.prefixlab';
const SHARED = '/work/shared';
const listing = (path: string, names: string[] = []) => ({ path, parent: null, entries: names.map((name) => ({ name, path: `${path}/${name}`, kind: 'dir' })), truncated: false });
const listedPaths = (): string[] => fake.call('files.list').mock.calls.map(([req]) => (req as { path: string }).path);

function mountDialog() {
  return mount(ExportDialog, { props: { formats: ['ptplus'], entryName: 'my run' } as never });
}

describe('ExportDialog folder picker', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    fake
      .call('files.roots')
      .mockReset()
      .mockResolvedValue({
        roots: [
          { path: HOME, label: '.prefixlab (app data)' },
          { path: SHARED, label: 'shared' },
        ],
      });
    fake
      .call('files.list')
      .mockReset()
      .mockImplementation(async ({ path }: { path: string }) => {
        if (path === '/gone') throw new Error('folder does not exist');
        return listing(path);
      });
  });

  it('never exported: opens in the first served folder, not the app data folder, even if the home was browsed before', async () => {
    localStorage.setItem('prefixlab-browse-export', HOME); // what an earlier version remembered after browsing the home
    mountDialog();
    await flushPromises();
    expect(listedPaths()).toEqual([SHARED]);
  });

  it('opens where the last export went', async () => {
    localStorage.setItem('prefixlab-last-export-folder', '/work/shared/exports');
    const wrapper = mountDialog();
    await flushPromises();
    expect(listedPaths()).toEqual(['/work/shared/exports']);
    expect(wrapper.find('.path').text()).toBe('/work/shared/exports');
  });

  it('a last export folder that is gone falls back to the first served folder', async () => {
    localStorage.setItem('prefixlab-last-export-folder', '/gone');
    const wrapper = mountDialog();
    await flushPromises();
    expect(listedPaths()).toEqual(['/gone', SHARED]);
    expect(wrapper.find('[role="alert"]').exists()).toBe(false);
  });

  it('only the home is served: opens the home', async () => {
    fake.call('files.roots').mockResolvedValue({ roots: [{ path: HOME, label: '.prefixlab (app data)' }] });
    mountDialog();
    await flushPromises();
    expect(listedPaths()).toEqual([HOME]);
  });

  it('after an export, lists the folder again (the new folder shows) and opens there next time', async () => {
    const store = useAdaptersStore();
    store.selected = { kind: 'run', id: 'r1' };
    const outDir = `${SHARED}/my-run-ptplus`;
    fake.call('adapters.export').mockResolvedValue({ format: 'ptplus', outDir, files: ['prefixlab_ptplus.json'], parity: { maxAbsDiff: 0, inputs: [[1]], ok: true } });
    const wrapper = mountDialog();
    await flushPromises();
    await wrapper.find('[data-testid="export-picker-use-folder"]').trigger('click');
    fake.call('files.list').mockImplementation(async ({ path }: { path: string }) => listing(path, ['my-run-ptplus']));
    await wrapper.find('[data-testid="export-run"]').trigger('click');
    await flushPromises();
    expect(fake.call('adapters.export')).toHaveBeenCalledWith({ id: 'r1', format: 'ptplus', outDir, force: false });
    expect(listedPaths()).toEqual([SHARED, SHARED]);
    expect(wrapper.find('[data-name="my-run-ptplus"]').exists()).toBe(true);
    expect(store.lastExportFolder).toBe(SHARED);
    expect(localStorage.getItem('prefixlab-last-export-folder')).toBe(SHARED);
  });
});

describe('parentFolder', () => {
  it('is the folder holding a path', () => {
    expect(parentFolder('/a/b')).toBe('/a');
    expect(parentFolder('/a/b/')).toBe('/a');
    expect(parentFolder('/b')).toBe('/');
    expect(parentFolder('C:\\exports\\run')).toBe('C:\\exports');
    expect(parentFolder('C:\\run')).toBe('C:\\');
    expect(parentFolder('run')).toBeNull();
  });
});
