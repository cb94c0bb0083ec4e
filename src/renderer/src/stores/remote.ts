// Settings' "Remote PrefixLab": which server the desktop app works on (main forwards every call there while
// connected), connecting/disconnecting, and downloading a finished adapter from it into this machine's
// registry. The token goes to main once, on connect; nothing here keeps or shows it.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { RegistryEntry, RemoteStatus } from '@shared/contract';
import { api, transportName } from '../api';
import { errorMessage } from '../api/errors';

export interface PulledAdapter {
  id: string;
  name: string;
  status: 'pulled' | 'identical';
}

export const useRemoteStore = defineStore('remote', () => {
  const status = ref<RemoteStatus | null>(null);
  const error = ref<string | null>(null);
  const isBusy = ref(false);
  const pulled = ref<PulledAdapter | null>(null);
  /** The connected server's adapters (adapters.list is answered there while connected). */
  const remoteAdapters = ref<RegistryEntry[]>([]);
  /** Only the desktop app connects to a remote; a browser opens the remote's own URL instead. */
  const isAvailable = transportName === 'electron';

  async function refresh(): Promise<void> {
    if (!isAvailable) return;
    try {
      status.value = await api.remote.status();
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  /** Every store's data (datasets, runs, models) now comes from another server: start the window afresh. */
  function reloadWindow(): void {
    window.location.reload();
  }

  async function connect(url: string, token: string): Promise<boolean> {
    isBusy.value = true;
    error.value = null;
    try {
      status.value = await api.remote.connect({ url, token });
      reloadWindow();
      return true;
    } catch (err) {
      error.value = errorMessage(err);
      return false;
    } finally {
      isBusy.value = false;
    }
  }

  async function disconnect(): Promise<void> {
    isBusy.value = true;
    error.value = null;
    try {
      status.value = await api.remote.disconnect();
      reloadWindow();
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      isBusy.value = false;
    }
  }

  async function loadRemoteAdapters(): Promise<void> {
    if (!status.value?.connected) {
      remoteAdapters.value = [];
      return;
    }
    try {
      remoteAdapters.value = (await api.adapters.list({ kinds: ['adapter'] })).entries;
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  /** Downloads an adapter of the connected server into the local registry (shown after Disconnect). */
  async function pull(adapterId: string): Promise<void> {
    isBusy.value = true;
    error.value = null;
    pulled.value = null;
    try {
      const result = await api.adapters.pull({ adapterId });
      pulled.value = { id: result.id, name: result.name, status: result.status };
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      isBusy.value = false;
    }
  }

  return { status, error, isBusy, pulled, remoteAdapters, isAvailable, refresh, connect, disconnect, loadRemoteAdapters, pull };
});
