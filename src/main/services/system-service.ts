// Facts about the app and machine, and switching the compute backend.
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { activeBackend, initBackend, probeBackends, type BackendName } from '../engine/backend';
import { ApiError } from '@shared/errors';
import type { SystemInfo } from '@shared/contract';
import { APP_VERSION } from '../platform/version';

export class SystemService {
  constructor(
    private readonly home: string,
    private readonly shell: 'electron' | 'headless',
  ) {}

  async info(): Promise<SystemInfo> {
    const backend = await activeBackend();
    return {
      appVersion: APP_VERSION,
      tfjsVersion: tf.version.tfjs,
      backend,
      backends: await probeBackends(),
      cpuCores: os.availableParallelism?.() ?? os.cpus().length,
      totalMemoryBytes: os.totalmem(),
      freeMemoryBytes: os.freemem(),
      platform: `${process.platform}-${process.arch}`,
      nodeVersion: process.versions.node,
      shell: this.shell,
      home: this.home,
    };
  }

  async setBackend(name: BackendName | 'auto'): Promise<SystemInfo> {
    try {
      await initBackend(name);
    } catch (err) {
      throw new ApiError('unsupported', err instanceof Error ? err.message : String(err), { field: 'backend' });
    }
    return this.info();
  }
}
