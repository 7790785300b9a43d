/**
 * The ARM and the latent rate as fused WGSL programs on tfjs WebGPU, forward and backward:
 *     bits = Σ_pos mask[pos] · laplaceBits(q[pos], μ[pos], log2b[pos])
 * with (μ, log2b) the ARM of forward.ts on the canvas q, as one tf.customGrad op of
 * (theta, q) with gradients for q (the direct rate term and, through every position's causal
 * context, its neighbours') and for the ARM part of theta.
 *
 * Why: through the tape this part of a training step (context gather conv, per-layer
 * transpose / fused matMul / clip, split, the rate op, mask, sum, and all their backward
 * kernels) is some 60 WebGPU dispatches, and on WebGPU a step costs the fixed price of its
 * dispatches, not arithmetic. Here it is 4, whatever the image size:
 *   forward   1. one thread per canvas position (each thread R positions in turn): gather the
 *                N neighbours, the MLP in registers, bits, d bits/dμ and d bits/dlog2b,
 *                backprop through the MLP in registers. Writes d bits/dq[pos] (direct term)
 *                and d bits/d neighbour j ([P, N+1] together), and per workgroup the partial
 *                sums of the weight gradients (a reduction in workgroup memory after each
 *                layer's backprop, accumulated over the R rounds in registers) and of bits;
 *             2. the bits sum (one workgroup);
 *   backward  3. dq[n] = dy · (direct[n] + Σ_j ctx[n − off_j][j]) — a gather, no atomics;
 *             4. d theta: the weight-gradient partials summed (one workgroup per ARM
 *                parameter), times dy; zeros for the rest of theta.
 * All the gradient work happens in the forward program (the forward needs μ, log2b anyway and
 * the backward would redo it); an evaluation without gradients pays for arithmetic it does
 * not use, not for dispatches.
 *
 * Semantics are those of the tfjs path (forward.ts `arm` + rate.ts + the masked sum), the
 * reference kept for other backends and for the tests:
 *   - context: CONTEXT (model.ts) order, reads outside the canvas are 0 (the tfjs path pads
 *     top 4, left and right 4); gaps read whatever q holds there (0 once masked);
 *   - hidden: clip(·, 0, 128) with gradient where 0 ≤ pre-activation ≤ 128 (tfjs's
 *     ClipByValue gradient, both ends inclusive); log2b: clip(·, lay.log2bMin, 6.875), its gradient
 *     passed inside the range (ends inclusive) and outside where it points back in (forward.ts
 *     clampLog2b);
 *   - rate: rate.ts's `parts` (shared WGSL), ln P floored at ln 1e-9 with zero gradient there;
 *   - the mask is not an input: it is the layout's grid rectangles (canvasMask), baked into
 *     the code. The q gradient is the exact one of this function of q, gap cells included
 *     (they are context of grid cells): lossTerms's q·mask zeroes it there, as before;
 *   - the theta gradient is full size, zero outside the ARM tensors (theta's first ones).
 * Float sums run in another order than tfjs's matMuls: results agree to rounding.
 *
 * Measured (bench/perimage-speed.ts, SwiftShader, default arch): 170.5 → 123.5 dispatches a
 * step at 24x16, 174.5 → 125.5 at 64x48 (the tfjs path's reductions grow with the size).
 * The ARM slices of forward.ts's theta split (6 Slice programs) are still dispatched though
 * unused on this path; a split without them would save those too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable } from '../../../model/gpu-kernels.js';
import { runMembers } from './members.js';
import { ARM_HIDDEN_MAX, LOG2B_MAX } from './forward.js';
import { CONTEXT, type Layout } from './model.js';
import { LN_FLOOR, WGSL_PARTS } from './rate.js';

let fusedAllowed = true;
/** Turn the fused ARM + rate off (true: back on) — for A/B benchmarks and tests; on by default. */
export function setFusedArm(on: boolean): void {
  fusedAllowed = on;
}
/** True when the fused ARM + rate will be used (WebGPU backend, not switched off). */
export const armFusedActive = (): boolean => fusedAllowed && gpuKernelsAvailable();

/**
 * At most this many workgroups in the per-position program: beyond, a thread takes several
 * positions (rounds), so the weight-gradient partials (workgroups × ARM parameters) stay a
 * few MB at any image size while 2048 × 64 threads still fill a large GPU.
 */
const MAX_WORKGROUPS = 2048;
let maxWorkgroups = MAX_WORKGROUPS;
/**
 * Tests: a lower cap on the per-position program's workgroups (for ArmRates made after), so
 * small images take several rounds as large ones do; no argument: back to the default.
 */
export function setArmWorkgroupCap(n = MAX_WORKGROUPS): void {
  maxWorkgroups = n;
}
/** workgroup size of the reductions (sums of partials) */
const RED = 64;

const f = (v: number): string => {
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
};

/** WGSL constant tables of the first N context offsets (model.ts CONTEXT order). */
function offsetTables(N: number): string {
  const c = CONTEXT.slice(0, N);
  return `const OFF_Y = array<i32, ${N}>(${c.map(([dy]) => dy).join(', ')});
      const OFF_X = array<i32, ${N}>(${c.map(([, dx]) => dx).join(', ')});`;
}

interface ArmLayer {
  inW: number;
  outW: number;
  /** offset of W [out][in] in theta; b follows at wOff + out·in */
  wOff: number;
  /** parameter count (W and b) */
  n: number;
  /** this thread's accumulator slots: K of them from KB */
  K: number;
  KB: number;
}

/** The derivative dq/dy of a relaxation q(y) of the canvas, elementwise: [K, Hc, Wc, 1], or one [Hc, Wc] for every member (`shared`). */
export interface QRelax {
  d: tf.Tensor;
  shared: boolean;
}

/** The fused op of one layout (sizes are baked into the shaders). */
export class ArmRate {
  private readonly fn: (theta: tf.Tensor, q: tf.Tensor) => tf.Scalar;
  private readonly key: string;
  private readonly P: number;
  private readonly N: number;
  private readonly nArm: number;
  private readonly WGS: number;
  private readonly R: number;
  private readonly NWG: number;
  private readonly layers: ArmLayer[];
  /**
   * layout of the forward program's output: [P, N+1] gradients (about the size of the tfjs
   * path's [P, N] context tensor), [nArm, NWG] partials, [NWG] bits partials
   */
  private readonly partOff: number;
  private readonly bitsOff: number;
  private readonly total: number;

  /**
   * `members` K: K models of the layout at once (members.ts): theta [K·nTheta], q
   * [K, Hc, Wc, 1], bits [K] (a scalar for K = 1); each program one dispatch for all K.
   */
  constructor(readonly lay: Layout, readonly members = 1, readonly log2bMin = lay.log2bMin) {
    const { arch, Hc, Wc, offsets, nTheta } = lay;
    const { N, D, Wh } = arch;
    this.N = N;
    this.P = Hc * Wc;
    this.nArm = offsets[2 * D + 2];
    // workgroup memory holds one layer's inputs and output gradients for the whole group;
    // 64 threads unless that passes 12 KiB (WebGPU guarantees 16 KiB)
    const maxIn = Math.max(N, D > 0 ? Wh : 0);
    const maxOut = D > 0 ? Wh : 2;
    this.WGS = 64 * (maxIn + maxOut) * 4 <= 12288 ? 64 : 32;
    this.R = Math.max(1, Math.ceil(this.P / (this.WGS * maxWorkgroups)));
    this.NWG = Math.ceil(this.P / (this.WGS * this.R));
    // the partials and the theta gradient index ARM parameters by their theta position
    if (offsets[0] !== 0) throw new Error('arm-gpu: the ARM tensors must open theta');
    this.layers = [];
    let KB = 0;
    for (let l = 0; l <= D; l++) {
      const inW = l === 0 ? N : Wh;
      const outW = l < D ? Wh : 2;
      const n = outW * inW + outW;
      const K = Math.ceil(n / this.WGS);
      if (offsets[2 * l + 1] !== offsets[2 * l] + outW * inW) throw new Error('arm-gpu: theta layout');
      this.layers.push({ inW, outW, wOff: offsets[2 * l], n, K, KB });
      KB += K;
    }
    this.partOff = this.P * (N + 1);
    this.bitsOff = this.partOff + this.nArm * this.NWG;
    this.total = this.bitsOff + this.NWG;
    const grids = lay.grids.map((g) => `${g.y}_${g.x}_${g.h}_${g.w}`).join('_');
    this.key = `${N}_${D}_${Wh}_${Hc}x${Wc}_${nTheta}_${grids}_${this.WGS}_${this.R}_${log2bMin}`;
    this.fn = tf.customGrad(((theta: tf.Tensor, q: tf.Tensor, save: tf.GradSaveFunc) => {
      const G = this.forward(theta, q);
      const bits = this.bitsSum(G);
      save([G]);
      return {
        value: bits,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [this.thetaGrad(saved[0], dy), this.qGrad(saved[0], dy)],
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (theta: tf.Tensor, q: tf.Tensor) => tf.Scalar;
  }

  /** Σ mask · bits of the canvas q [1, Hc, Wc, 1] under the ARM in theta [nTheta]; differentiable. */
  apply(theta: tf.Tensor1D, q: tf.Tensor4D): tf.Tensor {
    return this.fn(theta, q);
  }

  /**
   * `apply`'s forward outside the tape, for an op that wraps several parts (loss-gpu.ts):
   * the bits ([K], a scalar for K = 1) and G, what `grads` needs.
   */
  parts(theta: tf.Tensor, q: tf.Tensor): { bits: tf.Tensor; G: tf.Tensor } {
    const G = this.forward(theta, q);
    return { bits: this.bitsSum(G), G };
  }

  /**
   * [d theta, d q] of the bits for the upstream gradient dy · lam (lam: [K], the rate's
   * weight, multiplied in the programs), each plus its accumulator (acc: the gradients of
   * the op's other parts; where the ARM has none, acc passes through): the sums the tape
   * would otherwise add with one dispatch each.
   */
  grads(G: tf.Tensor, dy: tf.Tensor, lam: tf.Tensor, accTheta: tf.Tensor, accQ: tf.Tensor, relax?: QRelax): tf.Tensor[] {
    return [this.thetaGrad(G, dy, { lam, acc: accTheta }), this.qGrad(G, dy, { lam, acc: accQ, relax })];
  }

  /** Program 1: [P, N+1] gradients, weight-gradient partials, bits partials (see the header). */
  private forward(theta: tf.Tensor, q: tf.Tensor): tf.Tensor {
    const { lay, N, P, WGS, R, NWG, layers, partOff, bitsOff } = this;
    const { Hc, Wc } = lay;
    const D = lay.arch.D;
    const Wh = lay.arch.Wh;
    const lo = this.log2bMin;
    const N1 = N + 1;
    const KTOT = layers.reduce((a, l) => a + l.K, 0);
    const maxIn = Math.max(...layers.map((l) => l.inW));
    const maxOut = Math.max(...layers.map((l) => l.outW));
    const inGrid = lay.grids.map((g) => `(y >= ${g.y} && y < ${g.y + g.h} && x >= ${g.x} && x < ${g.x + g.w})`).join(' || ');
    // input j of layer l: the neighbours, or the clipped activations of layer l − 1
    const inExpr = (l: number, j: string) => (l === 0 ? `ctx[${j}]` : `clamp(a${l - 1}[${j}], 0.0, ${f(ARM_HIDDEN_MAX)})`);
    // output gradient array of layer l (w.r.t. its pre-activations)
    const dName = (l: number) => (l === D ? 'dOut' : `d${l}`);
    const hidden: string[] = [];
    for (let l = 0; l < D; l++) {
      const L = layers[l];
      hidden.push(`var a${l} : array<f32, ${Wh}>;
          for (var o = 0; o < ${Wh}; o++) {
            var s = TH[${L.wOff + L.outW * L.inW} + o];
            for (var j = 0; j < ${L.inW}; j++) { s = s + TH[${L.wOff} + o * ${L.inW} + j] * ${inExpr(l, 'j')}; }
            a${l}[o] = s;
          }`);
    }
    const Lo = layers[D];
    const back: string[] = [];
    for (let l = D - 1; l >= 0; l--) {
      const up = layers[l + 1];
      back.push(`var d${l} : array<f32, ${Wh}>;
          for (var j = 0; j < ${Wh}; j++) {
            var s = 0.0;
            for (var o = 0; o < ${up.outW}; o++) { s = s + TH[${up.wOff} + o * ${Wh} + j] * ${dName(l + 1)}[o]; }
            let a = a${l}[j];
            d${l}[j] = select(0.0, s, a >= 0.0 && a <= ${f(ARM_HIDDEN_MAX)});
          }`);
    }
    const reduce = layers.map((L, l) => `
          workgroupBarrier();
          for (var j = 0; j < ${L.inW}; j++) { xs[lid * ${L.inW} + j] = ${inExpr(l, 'j')}; }
          for (var o = 0; o < ${L.outW}; o++) { ds[lid * ${L.outW} + o] = ${dName(l)}[o]; }
          workgroupBarrier();
          for (var k = 0; k < ${L.K}; k++) {
            let e = lid + k * ${WGS};
            if (e < ${L.n}) {
              var s = 0.0;
              if (e < ${L.outW * L.inW}) {
                let o = e / ${L.inW};
                let j = e % ${L.inW};
                for (var t = 0; t < ${WGS}; t++) { s = s + ds[t * ${L.outW} + o] * xs[t * ${L.inW} + j]; }
              } else {
                let o = e - ${L.outW * L.inW};
                for (var t = 0; t < ${WGS}; t++) { s = s + ds[t * ${L.outW} + o]; }
              }
              acc[${L.KB} + k] = acc[${L.KB} + k] + s;
            }
          }`).join('');
    const writeParts = layers.map((L) => `
        for (var k = 0; k < ${L.K}; k++) {
          let e = lid + k * ${WGS};
          if (e < ${L.n}) { result[${partOff} + (${L.wOff} + e) * ${NWG} + wg] = acc[${L.KB} + k]; }
        }`).join('');
    const L0 = layers[0];
    const code = `${WGSL_PARTS}
      var<workgroup> xs : array<f32, ${WGS * maxIn}>;
      var<workgroup> ds : array<f32, ${WGS * maxOut}>;

      ${offsetTables(N)}

      fn main(index : i32) {
        // (no early return: the barriers below need uniform control flow)
        let lid = i32(localIndex);
        let wg = index / ${WGS};
        var acc : array<f32, ${KTOT}>;
        var bitsAcc = 0.0;
        for (var r = 0; r < ${R}; r++) {
          let pos = (wg * ${R} + r) * ${WGS} + lid;
          let valid = pos < ${P};
          let pc = min(pos, ${P - 1});
          let y = pc / ${Wc};
          let x = pc % ${Wc};
          // positions outside the grids (gaps, and threads past the end) add nothing
          let mf = select(0.0, 1.0, valid && (${inGrid}));
          // the causal context; above the canvas or left / right of it: 0 (the tfjs path's
          // zero padding). A loop over offset tables: the same N reads unrolled as N inlined
          // bounds-checked loads made SwiftShader's shader compiler run for minutes
          var ctx : array<f32, ${N}>;
          for (var j = 0; j < ${N}; j++) {
            let yy = y + OFF_Y[j];
            let xx = x + OFF_X[j];
            var v = 0.0;
            if (yy >= 0 && xx >= 0 && xx < ${Wc}) { v = Q[yy * ${Wc} + xx]; }
            ctx[j] = v;
          }
          ${hidden.join('\n          ')}
          var mu = TH[${Lo.wOff + 2 * Lo.inW}];
          var lr = TH[${Lo.wOff + 2 * Lo.inW + 1}];
          for (var j = 0; j < ${Lo.inW}; j++) {
            let h = ${inExpr(D, 'j')};
            mu = mu + TH[${Lo.wOff} + j] * h;
            lr = lr + TH[${Lo.wOff + Lo.inW} + j] * h;
          }
          let ls = clamp(lr, ${f(lo)}, ${f(LOG2B_MAX)});
          let rp = parts(Q[pc], mu, ls);
          bitsAcc = bitsAcc + mf * (max(rp.lnP, ${LN_FLOOR}) * ${-1 / Math.LN2});
          // rate.ts's derivatives (flat below the floor), times the mask
          let live = mf * f32(rp.lnP > ${LN_FLOOR});
          let dA = select(-rp.beta, (rp.beta * (rp.e1 - rp.e2)) * -0.5 / max(rp.p, 1e-9), rp.inner);
          let gq = dA * rp.s * live * ${-1 / Math.LN2};
          let dB = select(-(rp.a - 0.5) + rp.eb / (1.0 - rp.eb), ((0.5 - rp.a) * rp.e1 + (rp.a + 0.5) * rp.e2) * 0.5 / max(rp.p, 1e-9), rp.inner);
          let gls = dB * rp.beta * live;
          // forward.ts clampLog2b: outside the range only the gradient that points back in
          let lsIn = (lr >= ${f(lo)} && lr <= ${f(LOG2B_MAX)}) || (lr < ${f(lo)} && gls < 0.0) || (lr > ${f(LOG2B_MAX)} && gls > 0.0);
          var dOut = array<f32, 2>(-gq, select(0.0, gls, lsIn));
          ${back.join('\n          ')}
          // d bits / d neighbour j: through the first layer's weights
          if (valid && pc < uniforms.size) {
            result[pc * ${N1}] = gq;
            for (var j = 0; j < ${N}; j++) {
              var s = 0.0;
              for (var o = 0; o < ${L0.outW}; o++) { s = s + TH[${L0.wOff} + o * ${N} + j] * ${dName(0)}[o]; }
              result[pc * ${N1} + 1 + j] = s;
            }
          }
          // weight gradients: per layer, Σ over the group of (output gradient ⊗ input)${reduce}
        }
        ${writeParts}
        workgroupBarrier();
        ds[lid] = bitsAcc;
        workgroupBarrier();
        for (var h = ${WGS / 2}; h > 0; h = h / 2) {
          if (lid < h) { ds[lid] = ds[lid] + ds[lid + h]; }
          workgroupBarrier();
        }
        if (lid == 0) { result[${bitsOff} + wg] = ds[0]; }
      }`;
    const p = flatProgram(`nimg_arm_f_${this.key}`, ['TH', 'Q'], [this.total], code);
    p.workgroupSize = [WGS, 1, 1];
    p.dispatch = [NWG, 1, 1];
    return runMembers(p, [theta, q], this.members);
  }

  /** Program 2: Σ of the bits partials → scalar. */
  private bitsSum(G: tf.Tensor): tf.Scalar {
    const code = `
      var<workgroup> red : array<f32, ${RED}>;
      fn main(index : i32) {
        let l = i32(localIndex);
        var s = 0.0;
        for (var r = l; r < ${this.NWG}; r += ${RED}) { s = s + G[${this.bitsOff} + r]; }
        red[l] = s;
        workgroupBarrier();
        for (var h = ${RED / 2}; h > 0; h = h / 2) {
          if (l < h) { red[l] = red[l] + red[l + h]; }
          workgroupBarrier();
        }
        if (l == 0 && l < uniforms.size) { result[0] = red[0]; }
      }`;
    const p = flatProgram(`nimg_arm_s_${this.key}`, ['G'], [1], code);
    p.dispatch = [1, 1, 1];
    const out = runMembers(p, [G], this.members);
    const s = tf.reshape(out, this.members === 1 ? [] : [this.members]) as tf.Scalar;
    if (s !== (out as tf.Tensor)) out.dispose();
    return s;
  }

  /**
   * Program 3: dq [1, Hc, Wc, 1] = dy · (direct + the context gradients sent back to each
   * neighbour); with `x`: acc + g · (dy · lam), times the relaxation's derivative when given
   * (then the gradient w.r.t. the canvas the relaxation read).
   */
  private qGrad(G: tf.Tensor, dy: tf.Tensor, x?: { lam: tf.Tensor; acc: tf.Tensor; relax?: QRelax }): tf.Tensor {
    const { Hc, Wc } = this.lay;
    const N1 = this.N + 1;
    // position p reads neighbour p + off_j, so n receives from p = n − off_j (if p is in the canvas)
    const code = `
      ${offsetTables(this.N)}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let y = index / ${Wc};
          let x = index % ${Wc};
          var g = G[index * ${N1}];
          for (var j = 0; j < ${this.N}; j++) {
            let py = y - OFF_Y[j];
            let px = x - OFF_X[j];
            if (py < ${Hc} && px >= 0 && px < ${Wc}) { g = g + G[(py * ${Wc} + px) * ${N1} + 1 + j]; }
          }
          setOutputAtIndex(index, ${!x ? 'g * DY[0]' : x.relax ? '(A[index] + g * (DY[0] * LAM[0])) * D[index]' : 'A[index] + g * (DY[0] * LAM[0])'});
        }
      }`;
    const d = x?.relax;
    const names = x ? ['G', 'DY', 'LAM', 'A', ...(d ? ['D'] : [])] : ['G', 'DY'];
    const p = flatProgram(`nimg_arm_q${x ? 'a' : ''}${d ? 'd' : ''}_${this.key}`, names, [1, Hc, Wc, 1], code);
    // a shared derivative (the mask, [Hc·Wc]) is read as it is by every member
    return runMembers(p, x ? [G, dy, x.lam, x.acc, ...(d ? [d.d] : [])] : [G, dy], this.members, d?.shared ? ['D'] : []);
  }

  /**
   * Program 4: d theta [nTheta] = dy · Σ of the weight-gradient partials; 0 past the ARM. With
   * `x`: acc + Σ · (dy · lam), acc past the ARM.
   */
  private thetaGrad(G: tf.Tensor, dy: tf.Tensor, x?: { lam: tf.Tensor; acc: tf.Tensor }): tf.Tensor {
    const { nArm, NWG, partOff } = this;
    const nTheta = this.lay.nTheta;
    // workgroup w < nArm sums parameter w; the ones after zero-fill RED entries each
    const zeroGroups = Math.ceil((nTheta - nArm) / RED);
    const code = `
      var<workgroup> red : array<f32, ${RED}>;
      fn main(index : i32) {
        let w = i32(workgroupId.x);
        let l = i32(localIndex);
        var s = 0.0;
        if (w < ${nArm}) {
          for (var r = l; r < ${NWG}; r += ${RED}) { s = s + G[${partOff} + w * ${NWG} + r]; }
        }
        red[l] = s;
        workgroupBarrier();
        for (var h = ${RED / 2}; h > 0; h = h / 2) {
          if (l < h) { red[l] = red[l] + red[l + h]; }
          workgroupBarrier();
        }
        if (w < ${nArm}) {
          if (l == 0) { result[w] = ${x ? 'A[w] + red[0] * (DY[0] * LAM[0])' : 'red[0] * DY[0]'}; }
        } else {
          let e = ${nArm} + (w - ${nArm}) * ${RED} + l;
          if (e < uniforms.size) { result[e] = ${x ? 'A[e]' : '0.0'}; }
        }
      }`;
    const p = flatProgram(`nimg_arm_t${x ? 'a' : ''}_${this.key}`, x ? ['G', 'DY', 'LAM', 'A'] : ['G', 'DY'], [nTheta], code);
    // ≤ 2978 + 1024 groups: under WebGPU's 65535 per dimension, so workgroupId.x is the group
    p.dispatch = [nArm + zeroGroups, 1, 1];
    return runMembers(p, x ? [G, dy, x.lam, x.acc] : [G, dy], this.members);
  }
}

const cache = new WeakMap<Layout, Map<string, ArmRate>>();

/**
 * Σ mask · bits of the canvas q [1, Hc, Wc, 1] under the ARM of theta, as the fused op
 * (REQUIRES armFusedActive()). With `members` K: q [K, Hc, Wc, 1], theta [K·nTheta] → bits
 * [K]. log2bMin: the floor of log2 b (default the file's, lay.log2bMin). One ArmRate per
 * layout object, K and floor, kept while the layout lives.
 */
export function armBitsFused(lay: Layout, theta: tf.Tensor1D, q: tf.Tensor4D, members = 1, log2bMin = lay.log2bMin): tf.Tensor {
  return armRate(lay, members, log2bMin).apply(theta, q);
}

/** The cached fused ARM op of a layout, K and floor (armBitsFused's). */
export function armRate(lay: Layout, members: number, log2bMin: number): ArmRate {
  let byK = cache.get(lay);
  if (!byK) {
    byK = new Map();
    cache.set(lay, byK);
  }
  const k = `${members}_${log2bMin}`;
  let op = byK.get(k);
  if (!op) {
    op = new ArmRate(lay, members, log2bMin);
    byK.set(k, op);
  }
  return op;
}
