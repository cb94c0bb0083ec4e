// Typed reads of Hugging Face config.json fields; a wrong value becomes an ApiError naming file and field.
import { ApiError } from '@shared/errors';

export class ConfigFields {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly file: string,
  ) {}

  has(field: string): boolean {
    return this.raw[field] !== undefined && this.raw[field] !== null;
  }

  private fail(field: string, expected: string): never {
    // Show the value, but never all of a hostile one (a 5,000-character string would swamp the message).
    const shown = JSON.stringify(this.raw[field]) ?? String(this.raw[field]);
    throw new ApiError('bad_file', `${field} must be ${expected}, got ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}`, { file: this.file, field });
  }

  /** A positive integer (or `fallback` when absent). */
  int(field: string, fallback?: number): number {
    if (!this.has(field)) {
      if (fallback !== undefined) return fallback;
      throw new ApiError('bad_file', `missing required field ${field}`, { file: this.file, field });
    }
    const value = this.raw[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) this.fail(field, 'a positive integer');
    return value;
  }

  num(field: string, fallback?: number): number {
    if (!this.has(field)) {
      if (fallback !== undefined) return fallback;
      throw new ApiError('bad_file', `missing required field ${field}`, { file: this.file, field });
    }
    const value = this.raw[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, 'a finite number');
    return value;
  }

  bool(field: string, fallback: boolean): boolean {
    if (!this.has(field)) return fallback;
    const value = this.raw[field];
    if (typeof value !== 'boolean') this.fail(field, 'true or false');
    return value;
  }

  str(field: string, fallback: string): string {
    if (!this.has(field)) return fallback;
    const value = this.raw[field];
    if (typeof value !== 'string') this.fail(field, 'a string');
    return value;
  }

  /** A token id or null. */
  tokenId(field: string): number | null {
    if (!this.has(field)) return null;
    const value = this.raw[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(field, 'a token id');
    return value;
  }

  /** A token id or list of ids (eos_token_id may be either). */
  tokenIds(field: string): number[] {
    if (!this.has(field)) return [];
    const value = this.raw[field];
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) this.fail(field, 'a token id or a list of them');
    return list as number[];
  }

  /** Fails with a clear message when a structural constraint between fields does not hold. */
  require(condition: boolean, field: string, message: string): void {
    if (!condition) throw new ApiError('bad_file', message, { file: this.file, field });
  }
}
