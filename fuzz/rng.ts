/**
 * The fuzzer's PRNG (sfc32): one stream per iteration, seeded from (run seed, iteration),
 * so any input a run produced can be rebuilt from its iteration number alone.
 */
export interface Rng {
  /** uniform [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
  pick<T>(a: readonly T[]): T;
  /** true with probability p */
  chance(p: number): boolean;
}

export function makeRng(seed: number, stream = 0): Rng {
  let a = 0x9e3779b9 ^ seed,
    b = 0x243f6a88 ^ Math.imul(stream + 1, 0x85ebca6b),
    c = 0xb7e15162 ^ Math.imul(seed, 0xc2b2ae35),
    d = 1;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (arr) => arr[int(arr.length)], chance: (p) => next() < p };
}
