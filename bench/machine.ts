// The machine a benchmark ran on, recorded next to its numbers.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { referenceEnv } from './reference-env';

export function machineInfo(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    node: process.versions.node,
    tfjs: tf.version.tfjs,
    // The C allocator settings of our side (the training process's: bench/index.ts) and of the references.
    allocator: process.env.GLIBC_TUNABLES ?? 'default',
    referenceAllocator: referenceEnv().GLIBC_TUNABLES ?? 'default',
    date: new Date().toISOString(),
  };
}
