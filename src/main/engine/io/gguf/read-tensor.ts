// Reads GGUF tensors one at a time: exactly the tensor's bytes, from its offset, through one descriptor held
// open on the regular file whose header readGgufFile checked, then dequantizes them to float32.
import { closeSync, readSync } from 'node:fs';
import { ApiError } from '@shared/errors';
import { openRegularFile } from '../bounded-read';
import { assertDequantizable, dequantize } from './dequantize';
import type { GgufFile, GgufTensorInfo } from './gguf-file';

export interface GgufTensor {
  info: GgufTensorInfo;
  data: Float32Array;
}

export class GgufTensorReader {
  private fd: number | null;
  private readonly byName: Map<string, GgufTensorInfo>;

  private constructor(
    readonly file: GgufFile,
    fd: number,
  ) {
    this.fd = fd;
    this.byName = new Map(file.tensors.map((t) => [t.name, t]));
  }

  /** Opens the file `file` was read from; refuses it if its size changed since (the table would not fit it). */
  static open(file: GgufFile): GgufTensorReader {
    const { fd, size } = openRegularFile(file.path);
    if (size !== file.size) {
      closeSync(fd);
      throw new ApiError('conflict', `GGUF file changed since its header was read (${file.size} bytes then, ${size} now)`, { file: file.path });
    }
    return new GgufTensorReader(file, fd);
  }

  /** The raw bytes of tensor `name` (exactly its byteLength). */
  readBytes(name: string): Uint8Array {
    const info = this.info(name);
    if (this.fd === null) throw new ApiError('internal', 'GGUF tensor reader is closed', { file: this.file.path });
    const bytes = allocate(info.byteLength, info, this.file.path);
    let done = 0;
    while (done < bytes.length) {
      // readSync moves at most 2 GiB per call.
      const n = readSync(this.fd, bytes, done, Math.min(bytes.length - done, 1 << 30), info.offset + done);
      if (n === 0) {
        const span = `${info.offset}–${info.offset + info.byteLength}`;
        throw new ApiError('bad_file', `file ends inside tensor ${name}'s data (byte ${info.offset + done} of ${span}; truncated since it was opened?)`, {
          file: this.file.path,
          field: name,
        });
      }
      done += n;
    }
    return bytes;
  }

  /** Tensor `name` dequantized to float32 (GGUF order: ne0 varies fastest). */
  read(name: string): GgufTensor {
    const info = this.info(name);
    assertDequantizable(info.type, { tensor: name, file: this.file.path }); // before reading its bytes
    const bytes = this.readBytes(name);
    return { info, data: dequantize(info.type, bytes, info.elements, { tensor: name, file: this.file.path }) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private info(name: string): GgufTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new ApiError('not_found', `tensor ${name} is not in this GGUF file`, { file: this.file.path, field: name });
    return info;
  }
}

function allocate(byteLength: number, info: GgufTensorInfo, path: string): Uint8Array {
  try {
    return new Uint8Array(byteLength);
  } catch {
    throw new ApiError('out_of_memory', `tensor ${info.name} (${byteLength} bytes) does not fit in memory`, { file: path, field: info.name });
  }
}
