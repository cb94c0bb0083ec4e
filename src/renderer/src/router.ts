// The product's sections. Hash history so the same build works from file:// (Electron) and http (serve).
import { createRouter, createWebHashHistory } from 'vue-router';

export const SECTIONS = [
  { path: '/datasets', name: 'datasets', label: 'Datasets', component: () => import('./views/DatasetsView.vue') },
  { path: '/models', name: 'models', label: 'Models', component: () => import('./views/ModelsView.vue') },
  { path: '/train', name: 'train', label: 'Train & Compare', component: () => import('./views/TrainView.vue') },
  { path: '/adapters', name: 'adapters', label: 'Adapters', component: () => import('./views/AdaptersView.vue') },
  { path: '/settings', name: 'settings', label: 'Settings', component: () => import('./views/SettingsView.vue') },
] as const;

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [{ path: '/', redirect: '/train' }, ...SECTIONS.map(({ path, name, component }) => ({ path, name, component }))],
});
