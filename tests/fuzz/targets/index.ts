// Every fuzz target, in the order reports list them.
import type { FuzzTarget } from '../lib/target';
import { safetensorsTarget } from './safetensors';
import { apiTarget, wsMessageTarget } from './api';
import { registryTarget } from './registry';
import { llama2cTarget, llama2cTokenizerTarget, modelConfigTarget, tokenizerTarget } from './models';
import { csvReaderTarget, datasetFileTarget, jsonlReaderTarget, jsonReaderTarget, textReaderTarget, trecReaderTarget, tsvReaderTarget } from './datasets';

export const TARGETS: FuzzTarget<never>[] = [
  jsonlReaderTarget,
  jsonReaderTarget,
  csvReaderTarget,
  tsvReaderTarget,
  textReaderTarget,
  trecReaderTarget,
  datasetFileTarget,
  safetensorsTarget,
  modelConfigTarget,
  tokenizerTarget,
  llama2cTarget,
  llama2cTokenizerTarget,
  registryTarget,
  apiTarget,
  wsMessageTarget,
] as FuzzTarget<never>[];

export function targetByName(name: string): FuzzTarget<never> | undefined {
  return TARGETS.find((t) => t.name === name);
}
