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
  // tfjs WASM, 2 shared cores (bench/perimage-speed.ts, default arch): 768x512 8131 ms/step,
  // 64x48 70-200 ms/step (machine load): b = 8131 / 393216 px; a = the small-image floor
  wasm: { a: 60, b: 0.0207 },
  // WebGPU, measured on an NVIDIA H100 (tfjs-webgpu on Dawn/Vulkan in Node 20, one process
  // alone on the GPU; bench/perimage-gpu.ts speed, bench/results/perimage-gpu/): 768x512 with
  // the fused programs 7.49 ms/step on 2026-12-06, after the pipeline-cache fix (55.3 ms
  // before it: every step compiled new pipelines); 5.52 ms/step on 2026-12-07 with the
  // 38-dispatch step (a whole 8000-step encode of kodim08 alone: 46.25 s). Only that size was
  // timed; the split into a + b is a guess (a = 3 ms of fixed cost, the rest per pixel)
  webgpu: { a: 3.0, b: 0.00000641 },
  // tfjs plain-JS kernels: not measured; assumed ~10x WASM
  cpu: { a: 600, b: 0.2 },
});

/**
 * a step's cost with the compact decoder (arch-choice.ts) relative to the default's: tfjs WASM
 * at 256x256, 433 vs 688 ms/step (bench/perimage-speed.ts 256 256 10 wasm none 1 compact,
 * 2-core machine, 2026-12-07); elsewhere not measured (WebGPU steps are bound by the latency
 * of their dispatches, not by the arithmetic: taken as 1)
 */
const COMPACT_FACTOR: Readonly<Record<BackendName, number>> = Object.freeze({ wasm: 0.63, webgpu: 1, cpu: 0.63 });

/** forward passes of the exponent search, relative to one training step */
const QUANT_STEP_EQUIV = 110 / 3;

export function estimateEncodeSeconds(width: number, height: number, steps: number, backend: BackendName, arch: 'default' | 'compact' = 'default'): number {
  const c = STEP_COST[backend];
  const ms = (c.a + c.b * width * height) * (arch === 'compact' ? COMPACT_FACTOR[backend] : 1);
  return ((steps + QUANT_STEP_EQUIV) * ms) / 1000;
}
