// Light/dark theme: follows the system until the user picks one; the choice survives reloads.
import { defineStore } from 'pinia';
import { ref, watchEffect } from 'vue';

export type Theme = 'system' | 'light' | 'dark';

export const useThemeStore = defineStore('theme', () => {
  const theme = ref<Theme>((localStorage.getItem('prefixlab-theme') as Theme | null) ?? 'system');
  watchEffect(() => {
    localStorage.setItem('prefixlab-theme', theme.value);
    const dark = theme.value === 'dark' || (theme.value === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  });
  return { theme };
});
