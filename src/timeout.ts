/**
 * A deadline for start-up steps that can hang without failing (a worker script that never
 * answers, a WASM runtime waiting on threads that never start): the caller gets a
 * NimgError('TIMEOUT') instead of a promise that never settles.
 */
import { NimgError } from './errors.js';

/** Default for `init`: compiling tfjs's WASM and starting workers takes 1-5 s on a slow phone. */
export const DEFAULT_INIT_TIMEOUT_MS = 60_000;

/** Check a user-given timeout: a positive number of milliseconds, or Infinity for none. */
export function checkTimeout(ms: unknown, what: string): number {
  if (ms === undefined) return DEFAULT_INIT_TIMEOUT_MS;
  if (typeof ms !== 'number' || !(ms > 0)) throw new NimgError('BAD_INPUT', `${what} must be a positive number of milliseconds (or Infinity), got ${String(ms)}`);
  return ms;
}

/** `p`, or NimgError('TIMEOUT', `what` …) after `ms`; `onTimeout` releases what `p` holds. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new NimgError('TIMEOUT', `${what} did not finish within ${ms} ms`));
    }, ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
