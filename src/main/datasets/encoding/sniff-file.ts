// Looks at a file's first bytes before anything parses it: byte-order mark, Parquet magic, and the
// signatures of binary files that were renamed to a text extension (so they fail with a reason, not noise).
import { open, stat } from 'node:fs/promises';
import { ApiError } from '@shared/errors';
import { plainCause } from '../../platform/system-errors';

export type Bom = 'utf-8' | 'utf-16le' | 'utf-16be';

export interface FileSniff {
  bytes: number;
  /** Up to HEAD_BYTES from the start. */
  head: Buffer;
  bom: Bom | null;
  bomLength: number;
  isParquet: boolean;
  /** Set when the file is binary and not Parquet: what it looks like. */
  binaryKind?: string;
}

const HEAD_BYTES = 64 * 1024;

const SIGNATURES: { kind: string; bytes: number[] }[] = [
  { kind: 'a gzip archive', bytes: [0x1f, 0x8b] },
  { kind: 'a zip archive (or .xlsx/.docx)', bytes: [0x50, 0x4b, 0x03, 0x04] },
  { kind: 'a PNG image', bytes: [0x89, 0x50, 0x4e, 0x47] },
  { kind: 'a JPEG image', bytes: [0xff, 0xd8, 0xff] },
  { kind: 'a GIF image', bytes: [0x47, 0x49, 0x46, 0x38] },
  { kind: 'a PDF document', bytes: [0x25, 0x50, 0x44, 0x46] },
  { kind: 'an ELF executable', bytes: [0x7f, 0x45, 0x4c, 0x46] },
  { kind: 'a bzip2 archive', bytes: [0x42, 0x5a, 0x68] },
  { kind: 'a zstd archive', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { kind: 'a 7-zip archive', bytes: [0x37, 0x7a, 0xbc, 0xaf] },
  { kind: 'an Excel 97 workbook (OLE)', bytes: [0xd0, 0xcf, 0x11, 0xe0] },
  { kind: 'a SQLite database', bytes: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65] },
];

/** Reads the head of `path`. Throws ApiError not_found / bad_file when it is not a readable file. */
export async function sniffFile(path: string): Promise<FileSniff> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ApiError('not_found', `no such file: ${path}`, { file: path });
    throw new ApiError('bad_file', `cannot read ${path}: ${plainCause(err)}`, { file: path });
  }
  if (!info.isFile()) throw new ApiError('bad_file', `${path} is not a file`, { file: path });
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, info.size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const { bom, bomLength } = detectBom(head);
  const isParquet = startsWith(head, [0x50, 0x41, 0x52, 0x31]); // "PAR1"
  const sniff: FileSniff = { bytes: info.size, head, bom, bomLength, isParquet };
  if (!isParquet && !bom) sniff.binaryKind = binaryKindOf(head);
  return sniff;
}

export function detectBom(head: Uint8Array): { bom: Bom | null; bomLength: number } {
  if (startsWith(head, [0xef, 0xbb, 0xbf])) return { bom: 'utf-8', bomLength: 3 };
  if (startsWith(head, [0xff, 0xfe])) return { bom: 'utf-16le', bomLength: 2 };
  if (startsWith(head, [0xfe, 0xff])) return { bom: 'utf-16be', bomLength: 2 };
  return { bom: null, bomLength: 0 };
}

/** Text never holds NUL, and rarely C0 controls other than tab/newline/CR/form feed/escape. */
function binaryKindOf(head: Uint8Array): string | undefined {
  for (const sig of SIGNATURES) if (startsWith(head, sig.bytes)) return sig.kind;
  let controls = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i];
    if (b === 0) return 'binary data (it contains NUL bytes; UTF-16 text needs a byte-order mark)';
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) controls++;
  }
  if (head.length > 0 && controls / head.length > 0.05) return 'binary data (many control bytes)';
  return undefined;
}

function startsWith(head: Uint8Array, bytes: number[]): boolean {
  if (head.length < bytes.length) return false;
  return bytes.every((b, i) => head[i] === b);
}
