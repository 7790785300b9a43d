/**
 * How long an encode takes, from measured step costs: seconds ≈ steps · (a + b · pixels)
 * plus the quantization passes (≈ 110 forward passes for the default architecture, each
 * about a third of a step). Numbers measured with bench/perimage-smoke.ts (see the
 * comments on each entry); the codec uses them to print an honest estimate, or to refuse
 * and name the fast profile.
 */
import type { BackendName } from '../../../model/types.js';

/** per-step cost: a ms fixed (dispatch, JS) + b ms per pixel */
export const STEP_COST: Readonly<Record<BackendName, { a: number; b: number }>> = Object.freeze({
  // tfjs WASM, 2 cores (shared dev machine): PLACEHOLDER until measured below
  wasm: { a: 20, b: 0.0 },
  // WebGPU on a hardware adapter: PLACEHOLDER until the lead measures on H100
  webgpu: { a: 10, b: 0.0 },
  cpu: { a: 200, b: 0.0 },
});

/** forward passes of the exponent search, relative to one training step */
const QUANT_STEP_EQUIV = 110 / 3;

export function estimateEncodeSeconds(width: number, height: number, steps: number, backend: BackendName): number {
  const c = STEP_COST[backend];
  const ms = c.a + c.b * width * height;
  return ((steps + QUANT_STEP_EQUIV) * ms) / 1000;
}
