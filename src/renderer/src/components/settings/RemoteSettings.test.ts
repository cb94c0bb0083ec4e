// @vitest-environment happy-dom
// Settings' "Remote PrefixLab" in the desktop app: Connect sends URL and token to main and reloads the window
// (every store's data now comes from the remote); a refusal from main (plain remote http, bad token) is shown
// as its one line and nothing reloads; connected, the badge names the server, the remote's adapters can be
// downloaded, and Disconnect goes back.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'electron' }));
const { default: RemoteSettings } = await import('./RemoteSettings.vue');
const { default: RemoteBadge } = await import('./RemoteBadge.vue');

const disconnected = { connected: false, url: null, label: null, error: null };
const connected = { connected: true, url: 'https://gpu.example:8443', label: 'gpu.example:8443', error: null };
const stubs = { RouterLink: { template: '<a><slot /></a>' } };

describe('Remote PrefixLab settings', () => {
  let reload: ReturnType<typeof vi.fn>;
  beforeEach(() => {
    setActivePinia(createPinia());
    reload = vi.fn();
    Object.defineProperty(window, 'location', { value: { ...window.location, reload }, configurable: true });
    for (const name of ['remote.status', 'remote.connect', 'remote.disconnect', 'adapters.pull', 'adapters.list']) fake.call(name).mockReset();
  });

  it('shows main’s one-line refusal and does not reload; a good URL connects and reloads', async () => {
    fake.call('remote.status').mockResolvedValue(disconnected);
    const refusal = 'http://gpu.example:8765 is plain, unencrypted traffic to another machine: use https:// or wss:// (TLS through a reverse proxy) or an SSH tunnel';
    fake
      .call('remote.connect')
      .mockRejectedValueOnce(Object.assign(new Error(refusal), { code: 'forbidden' }))
      .mockResolvedValueOnce(connected);
    const wrapper = mount(RemoteSettings, { global: { stubs } });
    await flushPromises();
    await wrapper.find('[data-testid="remote-url"]').setValue('http://gpu.example:8765');
    await wrapper.find('[data-testid="remote-token"]').setValue('secret-token');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(fake.call('remote.connect')).toHaveBeenCalledWith({ url: 'http://gpu.example:8765', token: 'secret-token' });
    expect(wrapper.find('[data-testid="remote-error"]').text()).toContain('use https:// or wss://');
    expect(reload).not.toHaveBeenCalled();

    await wrapper.find('[data-testid="remote-url"]').setValue('https://gpu.example:8443');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(reload).toHaveBeenCalledTimes(1);
    expect(wrapper.html()).not.toContain('secret-token');
  });

  it('connected: the badge names the server, an adapter downloads, Disconnect goes back', async () => {
    fake.call('remote.status').mockResolvedValue(connected);
    fake.call('adapters.list').mockResolvedValue({ entries: [{ kind: 'adapter', id: 'lora-abc123', name: 'big lora' }] });
    fake.call('adapters.pull').mockResolvedValue({ id: 'lora-abc123', name: 'big lora', method: 'lora', status: 'pulled', bytes: 10, sha256: 'x', from: 'gpu.example:8443' });
    fake.call('remote.disconnect').mockResolvedValue({ ...disconnected, url: connected.url });
    const badge = mount(RemoteBadge, { global: { stubs } });
    const wrapper = mount(RemoteSettings, { global: { stubs } });
    await flushPromises();
    expect(badge.find('[data-testid="remote-badge"]').text()).toBe('on gpu.example:8443');
    expect(wrapper.find('[data-testid="remote-connected"]').text()).toContain('gpu.example:8443');
    await wrapper.find('[data-testid="remote-pull"]').trigger('click');
    await flushPromises();
    expect(fake.call('adapters.pull')).toHaveBeenCalledWith({ adapterId: 'lora-abc123' });
    expect(wrapper.find('[data-testid="remote-pulled"]').text()).toContain('is in the local registry');
    await wrapper.find('[data-testid="remote-disconnect"]').trigger('click');
    await flushPromises();
    expect(fake.call('remote.disconnect')).toHaveBeenCalled();
    expect(reload).toHaveBeenCalledTimes(1);
  });
});
