import type { PrefixLabApi } from '../shared/contract';

declare global {
  interface Window {
    /** Present inside Electron (exposed by the preload); absent in a browser on `prefixlab serve`. */
    prefixlab?: PrefixLabApi;
  }
}
export {};
