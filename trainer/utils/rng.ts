// Seeded random numbers (xoshiro128**): every random choice is drawn from a stream named by (seed, purpose, step).

/** Serializable generator state (xoshiro128**). */
export type RngState = [number, number, number, number];

/**
 * xoshiro128** (Blackman & Vigna): fast, 2^128 period, and exact in JavaScript's 32-bit integer ops.
 * Every random choice in the project draws from one of these, seeded from the run's seed and a
 * stream name, so runs are reproducible and resumable.
 */
export class Rng {
  private s: Uint32Array;

  private constructor(state: RngState) {
    this.s = Uint32Array.from(state);
    if (this.s.every((v) => v === 0)) throw new Error("Rng state must not be all zeros");
  }

  /** A generator for (seed, stream): different streams from one seed are independent. */
  static fromSeed(seed: number, stream = ""): Rng {
    // splitmix32 over the seed and a hash of the stream name fills the state.
    let x = (Math.trunc(seed) ^ hashString(stream)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const state: RngState = [next(), next(), next(), next()];
    if (state.every((v) => v === 0)) state[0] = 1;
    return new Rng(state);
  }

  static fromState(state: RngState): Rng {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    ) {
      throw new Error(`invalid Rng state ${JSON.stringify(state)}: expected four uint32 values`);
    }
    return new Rng(state);
  }

  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  /** Next uint32. */
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

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [lo, hi) (hi exclusive, like torch.randint). Requires hi > lo. */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new Error(`Rng.int: empty range [${lo}, ${hi})`);
    const span = hi - lo;
    if (span > 0xffffffff) return lo + Math.floor(this.float() * span);
    // Rejection sampling: no modulo bias.
    const limit = Math.floor(0x100000000 / span) * span;
    for (;;) {
      const v = this.nextUint32();
      if (v < limit) return lo + (v % span);
    }
  }

  /** Standard normal (Box–Muller; one value per call so the stream position is simple to reason about). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Normal(0, std) truncated to [lo, hi] by rejection, like timm's trunc_normal_ (bounds are absolute). */
  truncNormal(std: number, lo = -2, hi = 2): number {
    for (;;) {
      const v = this.normal() * std;
      if (v >= lo && v <= hi) return v;
    }
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** FNV-1a of a string, as uint32. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
