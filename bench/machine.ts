// The machine a benchmark ran on, recorded next to its numbers.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';

export function machineInfo(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    node: process.versions.node,
    tfjs: tf.version.tfjs,
    date: new Date().toISOString(),
  };
}
