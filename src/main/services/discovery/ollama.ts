// Ollama's store: manifests/HOST/NAMESPACE/NAME/TAG are OCI-style JSON manifests; the layer of media type
// application/vnd.ollama.image.model names the GGUF weights by digest, stored as blobs/sha256-HEX. The blob is
// read in place as a GGUF file; the entry is named as `ollama list` names it (NAME:TAG for the library).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ApiError, zodIssueError } from '@shared/errors';
import { readBoundedText } from '../../engine/io/bounded-read';
import { describeGguf } from './describe-model';
import { listFolder } from './list-folder';
import { brokenEntry, DISCOVERY_LIMITS, errorLine, type DiscoveredModel, type ScanBudget } from './types';

export const OLLAMA_MODEL_MEDIA_TYPE = 'application/vnd.ollama.image.model';
const DEFAULT_HOST = 'registry.ollama.ai';

const ManifestSchema = z.object({
  layers: z.array(z.object({ mediaType: z.string(), digest: z.string() }).passthrough()),
});

/** Only a sha256 digest may become a file name: anything else could point outside blobs/. */
const DIGEST = /^sha256:([0-9a-f]{64})$/;

export async function scanOllama(root: string, budget: ScanBudget, warnings: string[]): Promise<DiscoveredModel[]> {
  const manifests = join(root, 'manifests');
  if (!existsSync(manifests)) {
    warnings.push(`${root}: has no manifests/ folder; not an Ollama model store?`);
    return [];
  }
  const models: DiscoveredModel[] = [];
  // Exactly four levels: host, namespace, model name, tag.
  for (const host of listFolder(manifests, budget).folders) {
    for (const namespace of listFolder(join(manifests, host), budget).folders) {
      for (const model of listFolder(join(manifests, host, namespace), budget).folders) {
        const tagDir = join(manifests, host, namespace, model);
        for (const tag of listFolder(tagDir, budget).names) {
          if (!budget.addModel()) return models;
          models.push(await describeManifest(root, join(tagDir, tag), displayName(host, namespace, model, tag)));
        }
      }
    }
  }
  return models;
}

function displayName(host: string, namespace: string, model: string, tag: string): string {
  if (host === DEFAULT_HOST) return namespace === 'library' ? `${model}:${tag}` : `${namespace}/${model}:${tag}`;
  return `${host}/${namespace}/${model}:${tag}`;
}

async function describeManifest(root: string, manifestPath: string, name: string): Promise<DiscoveredModel> {
  const base = { name, path: manifestPath, format: 'gguf' as const, source: 'ollama' as const };
  let blob: string;
  try {
    blob = modelBlob(root, manifestPath, name);
  } catch (err) {
    return brokenEntry(base, errorLine(err, manifestPath));
  }
  return describeGguf(blob, name, 'ollama');
}

/** The path of the manifest's model blob; throws one ApiError naming the manifest when it cannot be had. */
function modelBlob(root: string, manifestPath: string, name: string): string {
  const text = readBoundedText(manifestPath, DISCOVERY_LIMITS.manifestBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ApiError('bad_file', `Ollama manifest is not valid JSON (${(err as Error).message})`, { file: manifestPath });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw zodIssueError(parsed.error, 'bad_file', 'not an Ollama manifest', { file: manifestPath });
  const layer = parsed.data.layers.find((l) => l.mediaType === OLLAMA_MODEL_MEDIA_TYPE);
  if (!layer) throw new ApiError('bad_file', `Ollama manifest has no layer of media type ${OLLAMA_MODEL_MEDIA_TYPE} (an adapter or embedding-only entry?)`, { file: manifestPath });
  const hex = DIGEST.exec(layer.digest)?.[1];
  if (!hex) throw new ApiError('bad_file', `model layer digest ${JSON.stringify(layer.digest.slice(0, 80))} is not sha256:<64 hex digits>`, { file: manifestPath });
  const blob = join(root, 'blobs', `sha256-${hex}`);
  if (!existsSync(blob)) {
    throw new ApiError('not_found', `the model blob blobs/sha256-${hex} this manifest names is missing (pull interrupted or blobs pruned? \`ollama pull ${name}\`)`, {
      file: manifestPath,
    });
  }
  return blob;
}
