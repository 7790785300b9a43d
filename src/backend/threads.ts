/**
 * How many tile workers the WASM backend may start. Each worker holds its own tfjs WASM
 * heap: the weights (~17 MB) plus a tile's working set, ~80 MB idle and up to ~200 MB busy
 * with 512 px tiles at N=128. Workers beyond the cores only add that memory and contend for
 * the same cores (32 threads: 81 s and 2.8 GB for one 768x512 decode on 2 cores, against
 * 12.7 s with one), so a request is capped by the cores available, and a request above
 * MAX_THREADS is refused outright as a caller error.
 */
import { NimgError } from '../errors.js';

/** Hard maximum of `threads`: 16 workers ≈ 1.3–3 GB of worker heaps, more than any page or edge worker should hold. */
export const MAX_THREADS = 16;

/** Default cap when `threads` is not given (browsers get fewer: each tab shares the device's memory). */
export const MAX_DEFAULT_THREADS_NODE = 8;
export const MAX_DEFAULT_THREADS_BROWSER = 4;

/** BAD_INPUT unless `threads` is undefined or an integer in [1, MAX_THREADS]. */
export function checkThreads(threads: unknown): number | undefined {
  if (threads === undefined) return undefined;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new NimgError('BAD_INPUT', `threads must be an integer from 1 to ${MAX_THREADS}, got ${String(threads)}`);
  }
  return threads;
}

/**
 * Workers to start: the request (or the default cap) limited to the cores available
 * (at least 1).
 */
export function resolveThreads(requested: number | undefined, cores: number, isNode: boolean): number {
  const c = Math.max(1, Math.floor(cores) || 1);
  const want = requested ?? (isNode ? MAX_DEFAULT_THREADS_NODE : MAX_DEFAULT_THREADS_BROWSER);
  return Math.max(1, Math.min(want, c, MAX_THREADS));
}
