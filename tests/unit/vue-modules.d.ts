// Cross-module tests that render a component import its .vue file (Vitest compiles it with the Vue plugin);
// tsc for the node projects needs the same declaration the renderer's env.d.ts gives it.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
