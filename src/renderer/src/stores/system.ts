// System facts and the compute backend, as the status bar and Settings show them.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { PythonStatus, SystemInfo } from '@shared/contract';
import { api, transportName } from '../api';
import { errorMessage } from '../api/errors';

export type BackendChoice = SystemInfo['backend'] | 'auto';

export const useSystemStore = defineStore('system', () => {
  const info = ref<SystemInfo | null>(null);
  const error = ref<string | null>(null);
  const isSwitching = ref(false);
  /** The torch engine's Python (Settings); probed on demand: it starts the interpreter. */
  const python = ref<PythonStatus | null>(null);
  const isProbingPython = ref(false);
  const pythonError = ref<string | null>(null);
  /** How this window reaches main: 'electron' (desktop) or 'websocket' (headless, `prefixlab serve`). */
  const transport = transportName;

  async function refresh(): Promise<void> {
    try {
      info.value = await api.system.info();
      error.value = null;
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  async function setBackend(backend: BackendChoice): Promise<void> {
    isSwitching.value = true;
    try {
      info.value = await api.system.setBackend({ backend });
      error.value = null;
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      isSwitching.value = false;
    }
  }

  async function probePython(): Promise<void> {
    isProbingPython.value = true;
    try {
      python.value = await api.system.python();
      pythonError.value = null;
    } catch (err) {
      pythonError.value = errorMessage(err);
    } finally {
      isProbingPython.value = false;
    }
  }

  let unsubscribe: (() => void) | undefined;
  function setUp(): void {
    unsubscribe ??= api.on('system.backendChanged', () => void refresh());
    void refresh();
  }
  function tearDown(): void {
    unsubscribe?.();
    unsubscribe = undefined;
  }

  return { info, error, isSwitching, transport, refresh, setBackend, setUp, tearDown, python, isProbingPython, pythonError, probePython };
});
