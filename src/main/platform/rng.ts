// The one seeded pseudo-random generator (xoshiro128**, seeded through splitmix32): data order, splits, token
// sampling and test fixtures draw from it, so a seed gives the same result on every machine and Node version
// (Math.random cannot promise that), and its 128-bit state is saved in checkpoints (tfjs's global generator
// can be neither seeded per run nor saved). Callers seed it with deriveSeed(seed, purpose) (./derive-seed)
// where one seed feeds several streams, so the data order and each split draw their own.

export type RngState = [number, number, number, number];

export class Rng {
  private readonly s: Uint32Array;

  private constructor(state: ArrayLike<number>) {
    this.s = Uint32Array.from(state);
    if (this.s.length !== 4) throw new Error(`rng state needs 4 words, got ${this.s.length}`);
    if (this.s.every((w) => w === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** A generator for `seed` (any integer; different seeds give unrelated streams). */
  static fromSeed(seed: number): Rng {
    let x = seed >>> 0;
    const splitmix = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    // Mix in the high bits of seeds beyond 32 bits (Date.now()-style seeds).
    const high = Math.floor(seed / 2 ** 32) >>> 0;
    return new Rng([splitmix(), splitmix() ^ high, splitmix(), splitmix()]);
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(state);
  }

  /** The current state; fromState(state()) continues the same stream. */
  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new Error(`rng.int needs an integer in 1..2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
