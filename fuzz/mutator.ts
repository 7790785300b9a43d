/**
 * What a fuzz target is made of: seed files and mutators. A mutator turns one seed (and,
 * for cross-overs, another seed of the same target) into a test input. Targets take lists
 * of both, so a new decoder profile registers its own seeds and mutators without touching
 * the harness.
 */
import type { Rng } from './rng.js';

export interface Mutator {
  name: string;
  /** relative frequency among the target's mutators (default 1) */
  weight?: number;
  apply(seed: Uint8Array, rng: Rng, other: Uint8Array): Uint8Array;
}

export interface FuzzTarget {
  name: string;
  /** relative frequency among the targets of a run (default 1) */
  weight?: number;
  seeds: Uint8Array[];
  mutators: Mutator[];
  /** run one input; resolve or throw (a NimgError is the expected failure) */
  run(input: Uint8Array): Promise<unknown> | unknown;
}
