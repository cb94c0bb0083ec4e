// npm's `prepare` hook: build the app after a development install so `npx prefixlab` works at once.
// A production install (no electron-vite) has nothing to build.
import { existsSync } from 'node:fs';
import { ensureBuilt } from './build-state.js';

if (existsSync(new URL('../node_modules/electron-vite/bin/electron-vite.js', import.meta.url))) ensureBuilt({ quiet: true });
