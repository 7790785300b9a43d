/**
 * Float training state → what the file carries (SPEC §2): integer latents and integer
 * parameter tensors, each with its exponent e and its centred table index s.
 *
 * - latents: round, clamp to [−127, 127] → Int16 grids.
 * - ARM tensors: Q8 integers w = round(W·256) (|w| ≤ 1023 for weights, ≤ 2^20 for biases),
 *   sent as k with w = k·2^e, e ∈ 0…4 (a coarser grid costs fewer bits).
 * - taps and synthesis: value = k·2^−e, e ∈ 4…16 (|k| ≤ 2^20).
 * The exponent of each tensor is searched in tensor order (one coordinate pass, the tensors
 * before it already quantized, those after it still float), minimising
 *     J = param bits + latent bits + MSE·H·W/λ          (the training loss, in bits)
 * where the latent bits and the MSE come from the float model (forward.ts) with the
 * dequantized parameters and the rounded latents: a forward pass per candidate, cheap next
 * to training. The param bits are exact for the tables of SPEC §1 (centre 0), escapes
 * included; s is the table that codes the tensor's integers in the fewest bits.
 * The exact latent rate of the integer ARM is the core's to measure (latentBits).
 */
import { NimgError } from '../../../errors.js';
import type { LatentGrids, PerImageParams, QuantTensor } from '../types.js';
import { unpackGrids, type Layout } from './model.js';
import { Evaluator } from './train.js';

// ---- the centred tables T[0][s] and the bits of an integer under them ----

const PREC = 65536;

/** R of table s (SPEC §1): symbols −R…R, then the escape */
export function tableRange(s: number): number {
  const b = 2 ** (-3 + s / 8);
  return Math.min(Math.ceil(8 * b) + 2, 254);
}

/** bits of each symbol of T[0][s]: [2R + 1 values (v = −R…R), escape] */
function tableBits(s: number): Float64Array {
  const b = 2 ** (-3 + s / 8);
  const R = tableRange(s);
  const n = 2 * R + 2;
  const G = (x: number) => (x < 0 ? 0.5 * Math.exp(x / b) : 1 - 0.5 * Math.exp(-x / b));
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n - 1; i++) {
    const v = i - R;
    p[i] = G(v + 0.5) - G(v - 0.5);
    sum += p[i];
  }
  p[n - 1] = Math.max(0, 1 - sum);
  const f = new Float64Array(n);
  let tot = 0;
  let best = 0;
  for (let i = 0; i < n; i++) {
    f[i] = 1 + Math.floor(p[i] * (PREC - n));
    tot += f[i];
    if (p[i] > p[best]) best = i;
  }
  f[best] += PREC - tot;
  return f.map((x) => -Math.log2(x / PREC));
}

const TABLES: Float64Array[] = [];
function table(s: number): Float64Array {
  TABLES[s] ??= tableBits(s);
  return TABLES[s];
}

/** bits of integer k under T[0][s], escape (order-0 Exp-Golomb bypass, rans.ts) included */
export function intBits(k: number, s: number): number {
  const t = table(s);
  const R = tableRange(s);
  if (k >= -R && k <= R) return t[k + R];
  const e = k < -R ? 2 * (-R - 1 - k) : 2 * (k - R - 1) + 1;
  const z = Math.floor(Math.log2(e + 1));
  return t[2 * R + 1] + 2 * z + 1;
}

/** the table index that codes these integers in the fewest bits, and those bits */
export function bestTable(k: ArrayLike<number>): { s: number; bits: number } {
  // a histogram first: tensors are small, but the 80 tables are scanned for each value
  const hist = new Map<number, number>();
  for (let i = 0; i < k.length; i++) hist.set(k[i], (hist.get(k[i]) ?? 0) + 1);
  let best = { s: 0, bits: Infinity };
  for (let s = 0; s < 80; s++) {
    let bits = 0;
    for (const [v, c] of hist) bits += c * intBits(v, s);
    if (bits < best.bits) best = { s, bits };
  }
  return best;
}

// ---- parameters ----

export const ARM_W_MAX = 1023;
export const ARM_B_MAX = 2 ** 20;
export const FLOAT_K_MAX = 2 ** 20;

interface TensorKind { arm: boolean; bias: boolean }

function kindOf(lay: Layout, t: number): TensorKind {
  return { arm: t < lay.tapsIndex, bias: t !== lay.tapsIndex && (t < lay.tapsIndex ? t % 2 === 1 : (t - lay.synthIndex) % 2 === 1) };
}

/** candidate exponents of tensor t */
function exponents(lay: Layout, t: number): number[] {
  const k = kindOf(lay, t);
  return k.arm ? [0, 1, 2, 3, 4] : Array.from({ length: 13 }, (_, i) => 4 + i);
}

/** quantize tensor t's float values with exponent e: k, or null if some |k| exceeds SPEC's bound */
export function quantizeTensor(lay: Layout, t: number, x: Float32Array, e: number): Int32Array | null {
  const kind = kindOf(lay, t);
  const k = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (kind.arm) {
      // Q8 integer, clamped to SPEC's range, then onto the 2^e grid (kept inside the range)
      const lim = kind.bias ? ARM_B_MAX : ARM_W_MAX;
      const w = Math.max(-lim, Math.min(lim, Math.round(x[i] * 256)));
      let q = Math.round(w / 2 ** e);
      while (Math.abs(q * 2 ** e) > lim) q -= Math.sign(q);
      k[i] = q;
    } else {
      const q = Math.round(x[i] * 2 ** e);
      if (Math.abs(q) > FLOAT_K_MAX) return null;
      k[i] = q;
    }
  }
  return k;
}

/** the float values a decoder uses for tensor t */
export function dequantizeTensor(lay: Layout, t: number, k: Int32Array, e: number): Float32Array {
  const arm = kindOf(lay, t).arm;
  return Float32Array.from(k, (v) => (arm ? (v * 2 ** e) / 256 : v * 2 ** -e));
}

/** theta (forward.ts layout) of quantized params */
export function dequantizeParams(lay: Layout, p: PerImageParams): Float32Array {
  const th = new Float32Array(lay.nTheta);
  p.tensors.forEach((q, t) => th.set(dequantizeTensor(lay, t, q.k, q.e), lay.offsets[t]));
  return th;
}

/** round and clamp the canvas latents → the grids, finest first */
export function quantizeLatents(lay: Layout, canvas: Float32Array): LatentGrids {
  return unpackGrids(lay, canvas).map((g) => Int16Array.from(g, (v) => Math.max(-127, Math.min(127, Math.round(v)))));
}

export interface QuantizeResult {
  params: PerImageParams;
  grids: LatentGrids;
  /** the float model's view of the quantized result */
  paramBits: number;
  latentBits: number;
  mse: number;
  /** the same with float params (rounded latents), for the cost of quantization */
  floatMse: number;
  floatLatentBits: number;
  evaluations: number;
}

/**
 * Quantize a trained state. Runs forward passes on the active tfjs backend.
 * `target`: rgbaToRows of the image (train.ts). `signal` is checked between passes;
 * `onTensor(done, total)` is called before the first tensor and after each one.
 */
export async function quantize(
  lay: Layout, target: Float32Array, theta: Float32Array, canvas: Float32Array, lambda: number, signal?: AbortSignal,
  onTensor?: (done: number, total: number) => void,
): Promise<QuantizeResult> {
  const npix = lay.width * lay.height;
  // the latents are rounded in every evaluation: round them once here (with the clamp)
  const qcanvas = Float32Array.from(canvas, (v) => Math.max(-127, Math.min(127, Math.round(v))));
  let evaluations = 0;
  const ev = new Evaluator(lay, target, qcanvas, lambda);
  const evalJ = async (th: Float32Array) => {
    if (signal?.aborted) throw new NimgError('ABORTED', 'perimage encode aborted');
    evaluations++;
    const r = await ev.run(th);
    return { ...r, jBits: r.bits + (r.mse * npix) / lambda };
  };
  try {
    const base = await evalJ(theta);
    const cur = Float32Array.from(theta);
    const tensors: QuantTensor[] = [];
    let paramBits = 0;
    onTensor?.(0, lay.sizes.length);
    for (let t = 0; t < lay.sizes.length; t++) {
      const x = theta.subarray(lay.offsets[t], lay.offsets[t] + lay.sizes[t]);
      let best: { j: number; k: Int32Array; e: number; s: number; bits: number; deq: Float32Array } | null = null;
      for (const e of exponents(lay, t)) {
        const k = quantizeTensor(lay, t, x, e);
        if (!k) continue;
        const tb = bestTable(k);
        const deq = dequantizeTensor(lay, t, k, e);
        cur.set(deq, lay.offsets[t]);
        const r = await evalJ(cur);
        const j = tb.bits + r.jBits;
        if (!best || j < best.j) best = { j, k, e, s: tb.s, bits: tb.bits, deq };
      }
      if (!best) throw new NimgError('INTERNAL', `perimage quantize: tensor ${t} fits no exponent`);
      cur.set(best.deq, lay.offsets[t]);
      tensors.push({ k: best.k, e: best.e, s: best.s });
      paramBits += best.bits;
      onTensor?.(t + 1, lay.sizes.length);
    }
    const fin = await evalJ(cur);
    return {
      params: lay.fineScales ? { arch: lay.arch, tensors, fineScales: true } : { arch: lay.arch, tensors },
      grids: quantizeLatents(lay, canvas),
      paramBits,
      latentBits: fin.bits,
      mse: fin.mse,
      floatMse: base.mse,
      floatLatentBits: base.bits,
      evaluations,
    };
  } finally {
    ev.dispose();
  }
}
