// Download a finished adapter from a remote `prefixlab serve` into the local registry: its manifest.json and
// adapter.safetensors are fetched by id (GET /api/adapters/<id>/<file>), bounded in size and time, checked
// (the manifest names this id and the tensors' sha256, the tensors parse as safetensors with the names the
// manifest lists), assembled in a hidden temp folder and renamed into <home>/adapters/<id>. An existing
// adapter with that id is never overwritten: an identical one is reported as already there, another refused.
import { existsSync, mkdirSync, openSync, fsyncSync, closeSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { SafetensorsReader } from '../../engine/io/safetensors';
import { fsyncDir, writeFileAtomic } from '../../platform/atomic-write';
import { sha256File } from '../../registry/files';
import { ADAPTER_TENSORS_FILE, MANIFEST_FILE, checkId, entryDir, kindDir } from '../../registry/layout';
import { fetchBytes, fetchToFile, type FetchLimits } from './remote-fetch';
import { checkRemoteToken, parseRemoteUrl } from './remote-url';

export interface PullLimits {
  manifest: FetchLimits;
  tensors: FetchLimits;
}

/** A manifest is a few KiB; adapters of the models we train are MiBs (full fine-tuning of a 1B model: GiBs). */
export const DEFAULT_PULL_LIMITS: PullLimits = {
  manifest: { maxBytes: 4 * 1024 * 1024, timeoutMs: 30_000 },
  tensors: { maxBytes: 16 * 1024 ** 3, timeoutMs: 60 * 60_000 },
};

export interface PullRequest {
  home: string;
  url: string;
  token: string;
  adapterId: string;
  limits?: PullLimits;
}

export interface PullResult {
  id: string;
  name: string;
  method: string;
  /** 'pulled': written now; 'identical': the same adapter (same manifest and tensors) was already here. */
  status: 'pulled' | 'identical';
  bytes: number;
  sha256: string;
  /** Where it came from (host and path prefix, no token). */
  from: string;
  /** The base model as the remote recorded it, and whether that path exists here (export loads the base from it). */
  baseModelPath: string | null;
  baseModelFound: boolean;
}

interface PulledManifest {
  id: string;
  name: string;
  method: string;
  baseModel?: { path?: unknown };
  tensors: { file: string; sha256: string; names: string[]; count: number };
}

function checkManifest(bytes: Buffer, id: string, from: string): PulledManifest {
  const where = `${from}/api/adapters/${id}/${MANIFEST_FILE}`;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ApiError('bad_file', `${where}: not JSON`);
  }
  const m = value as Partial<PulledManifest> & { kind?: unknown };
  if (!m || typeof m !== 'object' || m.kind !== 'adapter') throw new ApiError('bad_file', `${where}: not an adapter manifest (kind is not "adapter")`);
  if (m.id !== id) throw new ApiError('bad_file', `${where}: the manifest names adapter ${JSON.stringify(m.id)}, not ${id}`);
  const t = m.tensors;
  if (!t || t.file !== ADAPTER_TENSORS_FILE || typeof t.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(t.sha256) || !Array.isArray(t.names)) {
    throw new ApiError('bad_file', `${where}: tensors.file/sha256/names missing or malformed`);
  }
  if (typeof m.name !== 'string' || typeof m.method !== 'string') throw new ApiError('bad_file', `${where}: name or method missing`);
  return m as PulledManifest;
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function pullAdapter(req: PullRequest): Promise<PullResult> {
  const id = checkId(req.adapterId, 'adapterId');
  const endpoint = parseRemoteUrl(req.url);
  const token = checkRemoteToken(req.token);
  const limits = req.limits ?? DEFAULT_PULL_LIMITS;
  const base = `${endpoint.httpBase}/api/adapters/${encodeURIComponent(id)}`;

  const manifestBytes = await fetchBytes(`${base}/${MANIFEST_FILE}`, token, limits.manifest);
  const manifest = checkManifest(manifestBytes, id, endpoint.label);

  const root = kindDir(req.home, 'adapter');
  mkdirSync(root, { recursive: true });
  const finalDir = entryDir(req.home, 'adapter', id);
  // Refuse a different adapter under this id before downloading GiBs; the identical one is checked again below.
  const existing = existsSync(finalDir);
  if (existing) return sameOrRefuse(finalDir, manifestBytes, manifest, endpoint.label);

  const tempDir = join(root, `.${id}.pull-${process.pid}-${Date.now()}.tmp`);
  mkdirSync(tempDir);
  try {
    const tensorsPath = join(tempDir, ADAPTER_TENSORS_FILE);
    const got = await fetchToFile(`${base}/${ADAPTER_TENSORS_FILE}`, token, tensorsPath, limits.tensors);
    const shown = `${endpoint.label}/api/adapters/${id}/${ADAPTER_TENSORS_FILE}`;
    if (got.sha256 !== manifest.tensors.sha256) {
      throw new ApiError(
        'bad_file',
        `${shown}: sha256 ${got.sha256.slice(0, 12)}… differs from the manifest's ${manifest.tensors.sha256.slice(0, 12)}… (damaged in transit or on the server)`,
      );
    }
    checkTensors(tensorsPath, manifest, shown);
    fsyncFile(tensorsPath);
    // The manifest as the server stored it, byte for byte: provenance is never rewritten.
    await writeFileAtomic(join(tempDir, MANIFEST_FILE), manifestBytes);
    await fsyncDir(tempDir);
    if (existsSync(finalDir)) return sameOrRefuse(finalDir, manifestBytes, manifest, endpoint.label);
    renameSync(tempDir, finalDir);
    await fsyncDir(root);
    return { id, name: manifest.name, method: manifest.method, status: 'pulled', bytes: got.bytes, sha256: got.sha256, from: endpoint.label, ...baseModelOf(manifest) };
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
}

function baseModelOf(manifest: PulledManifest): { baseModelPath: string | null; baseModelFound: boolean } {
  const path = typeof manifest.baseModel?.path === 'string' ? manifest.baseModel.path : null;
  return { baseModelPath: path, baseModelFound: path !== null && existsSync(path) };
}

/** The tensors parse, and hold exactly the names the manifest lists. */
function checkTensors(path: string, manifest: PulledManifest, shown: string): void {
  let names: string[];
  try {
    const reader = SafetensorsReader.open(path);
    names = [...reader.tensors.keys()].sort();
    reader.close();
  } catch (err) {
    throw new ApiError('bad_file', `${shown}: not a readable safetensors file (${(err as Error).message})`);
  }
  const listed = [...manifest.tensors.names].sort();
  if (names.length !== listed.length || names.some((n, i) => n !== listed[i])) {
    throw new ApiError('bad_file', `${shown}: its tensors (${names.length}) are not the ${listed.length} the manifest lists`);
  }
}

async function sameOrRefuse(dir: string, manifestBytes: Buffer, manifest: PulledManifest, from: string): Promise<PullResult> {
  const here = join(dir, MANIFEST_FILE);
  const tensors = join(dir, ADAPTER_TENSORS_FILE);
  const sameManifest = existsSync(here) && readFileSync(here).equals(manifestBytes);
  const sha = existsSync(tensors) ? await sha256File(tensors) : '';
  if (sameManifest && sha === manifest.tensors.sha256) {
    return { id: manifest.id, name: manifest.name, method: manifest.method, status: 'identical', bytes: 0, sha256: sha, from, ...baseModelOf(manifest) };
  }
  throw new ApiError('already_exists', `adapter ${manifest.id} already exists here and differs from the one on ${from}; remove it first (prefixlab adapters list)`, {
    field: 'adapterId',
  });
}
