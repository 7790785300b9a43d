/**
 * Shared by the WebGPU comparison tests: the adapter probe (a test file skips, with a
 * message, where there is none) and the error measure of fused programs against tfjs ops.
 */
import { probeWebGpuAdapter } from '../src/backend/index.js';

/** Probe once per test file; warn `[name] SKIPPED` when there is no adapter. */
export async function webgpuAdapter(name: string): Promise<Awaited<ReturnType<typeof probeWebGpuAdapter>>> {
  const a = await probeWebGpuAdapter();
  if (!a.found) console.warn(`[${name}] SKIPPED: no WebGPU adapter (${a.description})`);
  return a;
}

/** max |a − b| / max |a| over [from, to) */
export function relErr(a: Float32Array, b: Float32Array, from = 0, to = a.length): number {
  let err = 0;
  let mag = 0;
  for (let i = from; i < to; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(a[i]));
  }
  return err / Math.max(mag, 1e-30);
}
