/**
 * The float model of SPEC §1 in tfjs, differentiable by tfjs's tape: the ARM over the
 * packed latent canvas (model.ts) and the synthesis (up2 chain + layers).
 *
 * Every learnt weight enters through a matMul, never as a convolution filter: tfjs WASM has
 * no Conv2DBackpropFilter kernel, so a learnt conv filter could not be trained there. The
 * convolutions that remain have CONSTANT one-hot filters (they only gather neighbours:
 * their input gradient is Conv2DBackpropInput, which every backend has):
 *   ARM     one conv [5, 9, 1, N] over the canvas padded top 4, left/right 4 gathers the
 *           N causal neighbours of every latent of every grid at once (the gaps between
 *           packed grids read 0), then matMuls with W1ᵀ, W2ᵀ, …
 *   up2     one conv [5, 1, 1, 5] (rows) / [1, 5, 1, 5] (columns) gathers x[i-2 … i+2]
 *           over the edge-replicated input, then a matMul with the [5, 2] matrix of the
 *           even / odd taps built from the 4 learnt taps;
 *   3x3     one im2col conv [3, 3, C, 9C] ('same', zero padding as SPEC), then a matMul
 *           with W [out, C·9] in SPEC's [out][in][ky][kx] order.
 * Weights are transposed explicitly before tf.fused.matMul: tfjs WASM 4.22's fused matMul
 * with transposeB and a bias returns wrong values (measured: max error 2.15 on a 50x7x24
 * product; without transposeB it matches matMul + add).
 * Feature maps of the up2 chain are [C, h, w, 1] (channels as batch: up2 treats each
 * channel alike); the synthesis runs on [H·W, C] rows.
 * On tfjs WebGPU the whole up2 chain is instead the fused programs of up2-gpu.ts, and the
 * synthesis layers (with the MSE) those of synth-gpu.ts (the tfjs ops here stay the path of
 * every other backend and the reference).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CONTEXT, type Layout } from './model.js';
import { SynthGpu } from './synth-gpu.js';
import { Up2Chain, up2FusedActive } from './up2-gpu.js';
import { armFusedActive } from './arm-gpu.js';
import { FusedLoss, fusedLossAllowed, type LossTerms, type Relaxed } from './loss-gpu.js';

export interface ArmOut {
  /** [Hc * Wc] centre and log2 scale (clamped to the file's range: [lay.log2bMin, 6.875]) of every canvas position */
  mu: tf.Tensor1D;
  log2b: tf.Tensor1D;
}

export const LOG2B_MAX = 6.875;
/** hidden activations of the integer ARM saturate at 32767 / 256 */
export const ARM_HIDDEN_MAX = 128;

/** the clamp gradient's rule, recorded in the bench rows (recipe r3 of bench/perimage-rd-report.ts) */
export const LOG2B_GRAD = 'inward';

/**
 * The clamp of log2 b to [lo, LOG2B_MAX] (lo: the file's table range, lay.log2bMin) with a
 * gradient that does not die outside the range: inside it passes dy; outside, only where a
 * descent step moves the value back towards the range (arm-gpu.ts applies the same rule).
 * Why: the latents start at 0, so every position has the same context and the same log2 b, and
 * within the first ~30 steps the rate drives that log2 b below the floor at every position at
 * once; with a plain clamp's gradient (0 outside) the scale output then never learns again.
 * Measured on 128x128 training crops, 2000 steps, lambda 1.5e-3, float loss (MSE + lambda *
 * latent bpp, rounded latents): PyTorch reference, photo 100075 seeds 1-4: -5.2 / -3.0 / +1.2 /
 * -0.9%, photo 145014 seeds 1-2: -9.5 / -8.2%; this encoder (tfjs WASM), 100075 seeds 1-2: -2.3 /
 * -5.7% (seed 1's file 0.737 -> 0.703 bpp at 32.35 dB). Recipe r3 (bench/perimage-rd-report.ts).
 */
function makeClamp(lo: number): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.clipByValue(x, lo, LOG2B_MAX),
      gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => {
        const inside = tf.logicalAnd(tf.greaterEqual(sx, lo), tf.lessEqual(sx, LOG2B_MAX));
        const back = tf.logicalOr(tf.logicalAnd(tf.less(sx, lo), tf.less(dy, 0)), tf.logicalAnd(tf.greater(sx, LOG2B_MAX), tf.greater(dy, 0)));
        return tf.mul(dy, tf.cast(tf.logicalOr(inside, back), 'float32'));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
}
const clamps = new Map<number, (x: tf.Tensor) => tf.Tensor>();
function clampLog2b(x: tf.Tensor, lo: number): tf.Tensor {
  let c = clamps.get(lo);
  if (!c) clamps.set(lo, (c = makeClamp(lo)));
  return c(x);
}

export class PerImageNet {
  readonly lay: Layout;
  private readonly armCtx: tf.Tensor4D;
  private readonly rowGather: tf.Tensor4D;
  private readonly colGather: tf.Tensor4D;
  private readonly tapsProj: tf.Tensor2D;
  private readonly im2col = new Map<number, tf.Tensor4D>();
  private readonly chain: Up2Chain;
  private readonly synGpu: SynthGpu;
  private readonly fusedLoss: FusedLoss;

  /**
   * `members` K > 1: K models of the layout on one image at once (members.ts) — theta
   * [K·nTheta], canvas [K, Hc, Wc, 1]; only the fused WebGPU path takes them (features,
   * synthMse; the ARM is arm-gpu.ts's op with the same K). See `membersSupported`.
   */
  constructor(lay: Layout, readonly members = 1) {
    this.lay = lay;
    this.chain = new Up2Chain(lay, members);
    this.synGpu = new SynthGpu(lay, members);
    this.fusedLoss = new FusedLoss(lay, members, this.chain, this.synGpu);
    const N = lay.arch.N;
    const k = new Float32Array(5 * 9 * N);
    for (let j = 0; j < N; j++) {
      const [dy, dx] = CONTEXT[j];
      k[((dy + 4) * 9 + (dx + 4)) * N + j] = 1;
    }
    this.armCtx = tf.tensor4d(k, [5, 9, 1, N]);
    const eye5 = new Float32Array(25);
    for (let j = 0; j < 5; j++) eye5[j * 5 + j] = 1;
    this.rowGather = tf.tensor4d(eye5, [5, 1, 1, 5]);
    this.colGather = tf.tensor4d(eye5, [1, 5, 1, 5]);
    // T[j][0] = t_j (j < 4), T[j][1] = t_(4-j) (j >= 1): even output i reads x[i-2+j] with
    // t_j, odd output with the mirrored taps (SPEC §1 up2)
    const p = new Float32Array(40);
    for (let i = 0; i < 4; i++) {
      p[i * 10 + i * 2] = 1;
      p[i * 10 + (4 - i) * 2 + 1] = 1;
    }
    this.tapsProj = tf.tensor2d(p, [4, 10]);
    let c = lay.arch.L;
    for (const l of lay.arch.synthesis) {
      if (l.kind === '3x3' && !this.im2col.has(c)) {
        const m = new Float32Array(9 * c * 9 * c);
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let ci = 0; ci < c; ci++) m[((ky * 3 + kx) * c + ci) * 9 * c + ci * 9 + ky * 3 + kx] = 1;
        this.im2col.set(c, tf.tensor4d(m, [3, 3, c, 9 * c]));
      }
      c = l.out;
    }
  }

  private lastSplit: { theta: tf.Tensor1D; parts: tf.Tensor1D[] } | null = null;

  /**
   * theta → the SPEC-order tensors (one split: its gradient is one concat). Only the tfjs-op
   * paths need them: on WebGPU the fused programs read theta at the layout's offsets, and a
   * split there would cost a dispatch per tensor (and a concat in the backward) for nothing.
   * The split of the last theta is reused (the ARM and the synthesis of one loss share it).
   * In a tidy.
   */
  split(theta: tf.Tensor1D): tf.Tensor1D[] {
    const c = this.lastSplit;
    if (c && c.theta === theta && !c.parts[0].isDisposed) return c.parts;
    const parts = tf.split(theta, this.lay.sizes) as tf.Tensor1D[];
    this.lastSplit = { theta, parts };
    return parts;
  }

  /** The 4 up-sampling taps of theta (a split's tensor when there is one, else one slice). In a tidy. */
  taps(theta: tf.Tensor1D): tf.Tensor1D {
    if (this.members > 1) {
      // [K, 4]: the taps of every member in one slice
      const { nTheta, offsets, tapsIndex } = this.lay;
      return tf.slice(tf.reshape(theta, [this.members, nTheta]), [0, offsets[tapsIndex]], [this.members, 4]) as unknown as tf.Tensor1D;
    }
    const c = this.lastSplit;
    if (c && c.theta === theta && !c.parts[0].isDisposed) return c.parts[this.lay.tapsIndex];
    return tf.slice(theta, [this.lay.offsets[this.lay.tapsIndex]], [4]);
  }

  /** The ARM on the (relaxed or integer) canvas [1, Hc, Wc, 1], log2 b floored at log2bMin. In a tidy. */
  arm(p: tf.Tensor1D[], canvas: tf.Tensor4D, log2bMin = this.lay.log2bMin): ArmOut {
    const { arch, Hc, Wc } = this.lay;
    const P = Hc * Wc;
    const padded = tf.pad(canvas, [[0, 0], [4, 0], [4, 4], [0, 0]]);
    let h: tf.Tensor2D = tf.reshape(tf.conv2d(padded, this.armCtx, 1, 'valid'), [P, arch.N]);
    let inW = arch.N;
    for (let l = 0; l < arch.D; l++) {
      const W = tf.reshape(p[2 * l], [arch.Wh, inW]);
      h = tf.clipByValue(tf.fused.matMul({ a: h, b: tf.transpose(W), bias: p[2 * l + 1] }), 0, ARM_HIDDEN_MAX) as tf.Tensor2D;
      inW = arch.Wh;
    }
    const Wo = tf.reshape(p[2 * arch.D], [2, inW]);
    const o = tf.fused.matMul({ a: h, b: tf.transpose(Wo), bias: p[2 * arch.D + 1] });
    const [mu, ls] = tf.split(o, 2, 1);
    return { mu: tf.reshape(mu, [P]), log2b: tf.reshape(clampLog2b(ls, log2bMin), [P]) };
  }

  /** SPEC up2 of x [C, h, w, 1] cropped to [C, th, tw, 1], with T [5, 2] the even/odd taps. */
  private up2(x: tf.Tensor4D, T: tf.Tensor2D, th: number, tw: number): tf.Tensor4D {
    const [C, h, w] = x.shape;
    // rows: replicate 2 each side, gather x[i-2 … i+2], combine, interleave even/odd rows
    const top = tf.slice(x, [0, 0, 0, 0], [C, 1, w, 1]);
    const bot = tf.slice(x, [0, h - 1, 0, 0], [C, 1, w, 1]);
    const xr = tf.conv2d(tf.concat([top, top, x, bot, bot], 1) as tf.Tensor4D, this.rowGather, 1, 'valid');
    let r: tf.Tensor4D = tf.reshape(tf.matMul(tf.reshape(xr, [C * h * w, 5]), T), [C, h, w, 2]);
    r = tf.reshape(tf.transpose(r, [0, 1, 3, 2]), [C, 2 * h, w, 1]);
    if (th !== 2 * h) r = tf.slice(r, [0, 0, 0, 0], [C, th, w, 1]);
    // columns: the same along axis 2; the [.., w, 2] → [.., 2w] reshape interleaves
    const left = tf.slice(r, [0, 0, 0, 0], [C, th, 1, 1]);
    const right = tf.slice(r, [0, 0, w - 1, 0], [C, th, 1, 1]);
    const xc = tf.conv2d(tf.concat([left, left, r, right, right], 2) as tf.Tensor4D, this.colGather, 1, 'valid');
    let c: tf.Tensor4D = tf.reshape(tf.matMul(tf.reshape(xc, [C * th * w, 5]), T), [C, th, 2 * w, 1]);
    if (tw !== 2 * w) c = tf.slice(c, [0, 0, 0, 0], [C, th, tw, 1]);
    return c;
  }

  /**
   * F_0 of SPEC §1 as [H * W, L] rows (channel c from grid L−1−c) from the canvas and the
   * taps: the fused WebGPU chain when active, else (or with `reference`) the tfjs ops. In a tidy.
   */
  features(taps: tf.Tensor1D, canvas: tf.Tensor4D, reference = false): tf.Tensor2D {
    if (!reference && up2FusedActive()) return this.chain.apply(canvas, taps);
    if (this.members > 1) throw new Error('perimage: members > 1 need the fused WebGPU up2 chain');
    const { arch, grids, width: W, height: H } = this.lay;
    const grid = (k: number): tf.Tensor4D => tf.slice(canvas, [0, grids[k].y, grids[k].x, 0], [1, grids[k].h, grids[k].w, 1]);
    const T: tf.Tensor2D = tf.reshape(tf.matMul(tf.reshape(taps, [1, 4]), this.tapsProj), [5, 2]);
    let F = grid(arch.L - 1) as unknown as tf.Tensor4D;
    for (let k = arch.L - 2; k >= 0; k--) F = tf.concat([this.up2(F, T, grids[k].h, grids[k].w), grid(k)], 0) as tf.Tensor4D;
    return tf.transpose(tf.reshape(F, [arch.L, H * W])) as tf.Tensor2D;
  }

  /** F_0 from theta: the fused chain reads the taps in theta itself (no slice, no pad in the backward). In a tidy. */
  private featuresOf(theta: tf.Tensor1D, canvas: tf.Tensor4D): tf.Tensor2D {
    if (up2FusedActive()) return this.chain.applyTheta(canvas, theta);
    return this.features(this.taps(theta), canvas);
  }

  /** The synthesis of the (relaxed or integer) canvas: [H * W, 3] RGB rows. In a tidy. */
  synth(theta: tf.Tensor1D, canvas: tf.Tensor4D): tf.Tensor2D {
    return this.synthRows(theta, this.featuresOf(theta, canvas));
  }

  /** mean((synth − target)²) over the [H * W, 3] rows; on WebGPU one fused op with the synthesis. In a tidy. */
  synthMse(theta: tf.Tensor1D, canvas: tf.Tensor4D, target: tf.Tensor2D): tf.Tensor {
    return this.synthMseRows(theta, this.featuresOf(theta, canvas), target);
  }

  /** The layers on F_0 [H * W, L]: the fused programs of synth-gpu.ts when active, else tfjs ops. In a tidy. */
  synthRows(theta: tf.Tensor1D, F0: tf.Tensor2D): tf.Tensor2D {
    if (this.synGpu.active()) return this.synGpu.rgb(F0, theta);
    if (this.members > 1) throw new Error('perimage: members > 1 need the fused WebGPU synthesis');
    return this.layers(this.split(theta), F0);
  }

  /** mean((layers(F_0) − target)²) as synthRows picks its path. In a tidy. */
  synthMseRows(theta: tf.Tensor1D, F0: tf.Tensor2D, target: tf.Tensor2D): tf.Tensor {
    if (this.synGpu.active()) return this.synGpu.mse(F0, theta, target);
    if (this.members > 1) throw new Error('perimage: members > 1 need the fused WebGPU synthesis');
    return tf.mean(tf.squaredDifference(this.layers(this.split(theta), F0), target));
  }

  /** The synthesis layers as tfjs ops (every backend; the reference of the fused programs). */
  private layers(p: tf.Tensor1D[], F0: tf.Tensor2D): tf.Tensor2D {
    const { arch, width: W, height: H, synthIndex } = this.lay;
    let x: tf.Tensor2D = F0;
    let c = arch.L;
    arch.synthesis.forEach((l, i) => {
      const Wt = tf.reshape(p[synthIndex + 2 * i], [l.out, l.kind === '3x3' ? 9 * c : c]);
      const inp = l.kind === '3x3' ? tf.reshape(tf.conv2d(tf.reshape(x, [1, H, W, c]) as tf.Tensor4D, this.im2col.get(c)!, 1, 'same'), [H * W, 9 * c]) as tf.Tensor2D : x;
      const y = tf.fused.matMul({ a: inp, b: tf.transpose(Wt), bias: p[synthIndex + 2 * i + 1], activation: l.act === 'relu' ? 'relu' : 'linear' });
      x = (l.residual ? tf.add(x, y) : y) as tf.Tensor2D;
      c = l.out;
    });
    return x;
  }

  /** True when K members can run here: every part on its fused WebGPU programs. */
  membersSupported(): boolean {
    return up2FusedActive() && this.synGpu.active() && armFusedActive();
  }

  /** True when lossFused runs here. */
  lossFusedActive(): boolean {
    return fusedLossAllowed() && this.membersSupported() && this.lay.arch.L > 1;
  }

  /**
   * The training loss mse + lam · bits of the relaxed, masked canvas q as one op
   * (loss-gpu.ts: fewer dispatches than the parts as separate tape ops), with its terms;
   * null where not every part is fused here (then the caller composes the parts). lam:
   * λ / (H·W), a number (one member) or [K]. With `relax` (loss-gpu.ts relaxFused of the
   * canvas x), x is the canvas and the relaxation's gradient is folded in. In a tidy.
   */
  lossFused(theta: tf.Tensor1D, x: tf.Tensor4D, target: tf.Tensor2D, lam: number | tf.Tensor, log2bMin: number, relax?: Relaxed): LossTerms | null {
    if (!this.lossFusedActive()) return null;
    return this.fusedLoss.apply(theta, x, target, lam, log2bMin, relax);
  }

  dispose(): void {
    tf.dispose([this.armCtx, this.rowGather, this.colGather, this.tapsProj, ...this.im2col.values()]);
    this.fusedLoss.dispose();
  }
}
