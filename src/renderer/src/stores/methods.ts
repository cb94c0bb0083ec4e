// The PEFT methods on offer (options schemas, defaults, default learning rates), as methods.list gives them:
// the renderer names no method itself, so names, labels, order and colours follow the engine's registry. For the
// comparison being set up, each ticked method's options, learning rate and live cost estimate.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { Estimate, MethodInfo } from '@shared/contract';
import { api } from '../api';
import { errorMessage } from '../api/errors';

export interface MethodSetup {
  isSelected: boolean;
  options: Record<string, unknown>;
  learningRate: number;
  estimate: Estimate | null;
  estimateError: string | null;
}

const SETUP_KEY = 'prefixlab-method-setup';

export const useMethodsStore = defineStore('methods', () => {
  const methods = ref<MethodInfo[]>([]);
  const trainerDefaults = ref<Record<string, unknown>>({});
  const setups = ref<Record<string, MethodSetup>>({});
  const error = ref<string | null>(null);
  /** Method names in list order (colours follow it: lib/charts methodColor). */
  const names = computed(() => methods.value.map((m) => m.name));

  async function load(): Promise<void> {
    if (methods.value.length > 0) return;
    try {
      const reply = await api.methods.list();
      methods.value = reply.methods;
      trainerDefaults.value = reply.trainer.defaults;
      const saved = JSON.parse(localStorage.getItem(SETUP_KEY) ?? '{}') as Record<string, Partial<MethodSetup>>;
      for (const [index, m] of reply.methods.entries()) {
        const previous = saved[m.name];
        setups.value[m.name] = {
          // The first listed method (the registry puts Prefix-Tuning+, what the workbench is about, first): ticked
          // unless the user chose otherwise.
          isSelected: previous?.isSelected ?? index === 0,
          options: { ...m.defaults, ...(previous?.options ?? {}) },
          learningRate: previous?.learningRate ?? m.defaultLearningRate,
          estimate: null,
          estimateError: null,
        };
      }
      error.value = null;
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  function persist(): void {
    const slim = Object.fromEntries(Object.entries(setups.value).map(([k, s]) => [k, { isSelected: s.isSelected, options: s.options, learningRate: s.learningRate }]));
    localStorage.setItem(SETUP_KEY, JSON.stringify(slim));
  }

  function reset(name: string): void {
    const info = methods.value.find((m) => m.name === name);
    const setup = setups.value[name];
    if (!info || !setup) return;
    setup.options = { ...info.defaults };
    setup.learningRate = info.defaultLearningRate;
    persist();
  }

  const serials: Record<string, number> = {};
  /** Trainable parameters and memory for one method's current options on a model. */
  async function estimate(name: string, modelId: string, batchSize: number, maxLength: number): Promise<void> {
    const setup = setups.value[name];
    if (!setup) return;
    const serial = (serials[name] = (serials[name] ?? 0) + 1);
    try {
      const result = await api.methods.estimate({ modelId, method: name, options: setup.options, batchSize, maxLength });
      if (serials[name] !== serial) return;
      setup.estimate = result;
      setup.estimateError = null;
    } catch (err) {
      if (serials[name] !== serial) return;
      setup.estimateError = errorMessage(err);
    }
  }

  return { methods, names, trainerDefaults, setups, error, load, persist, reset, estimate };
});
