/**
 * The up2 chain of SPEC §1 (grids → F_0, L channels at H × W) as fused WGSL programs on
 * tfjs WebGPU, forward and backward, with gradients for the latent canvas and the 4 taps.
 *
 * Why: on WebGPU a training step is set by the fixed cost of each dispatch, not by
 * arithmetic, and the tfjs-op chain of forward.ts (PadV2/Concat, gather conv, matMul,
 * transpose, slices, per level, plus all their backward kernels) was ~276 of the ~450
 * dispatches of a step (bench/perimage-speed.ts). Here the chain is L−1 programs forward
 * and 2(L−1) + 2 backward (20 for L = 7), whatever the image size.
 *
 * Layouts. F_k (k ≥ 1) is channel-major [C_k, h_k, w_k] (C_k = L − k); F_0 is written
 * pixel-major [H·W, L], the row layout the synthesis wants, so the transpose that the tfjs
 * path needs disappears too. F_{L−1} is never materialised: it is grid L−1, read from the
 * canvas in place (as is grid k, the last channel of F_k).
 *
 * Forward, level k (one thread per output of F_k): rows-then-columns up2 of channel c of
 * F_{k+1} in one thread, each column tap reading a row-pass value computed in SPEC's term
 * order (t0 term first) — the decoder's arithmetic, though the encoder needs only float
 * closeness (WGSL may contract to FMA).
 *
 * Backward. With w(o, m, n) the weight of input m (of n, edges replicated) in output o of
 * up2 — Σ of the taps whose clamped position is m — output o = 2i + p reads unclamped
 * positions i−2+p … i+1+p, so input m is read only by outputs 2m−4 … 2m+5 (this holds at the
 * edges too: clamping maps only positions < 0 to 0 and > n−1 to n−1). Hence
 *   dF_{k+1}[c][m][n] = Σ_{y ∈ 2m−4…2m+5} w(y, m, h) · Σ_{x ∈ 2n−4…2n+5} w(x, n, w) · dF_k[c][y][x]
 * (cropped outputs simply do not exist), one program per level. The taps: a per-level
 * program with one thread per row (c, y) of the row-pass result R and block of its
 * columns, which recomputes R and its gradient dR on the fly and sums dR · F (row pass) and dF_k · R (column pass) into 4 partial sums; one
 * last program adds the partials of all levels. The canvas gradient is one scatter of the
 * last channel of every dF_k (zeros in the gaps, as the tfjs path's slice gradients give).
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable } from '../../../model/gpu-kernels.js';
import { runMembers } from './members.js';
import type { Layout } from './model.js';

let fusedAllowed = true;
/** Turn the fused up2 chain off (true: back on) — for A/B benchmarks and tests; on by default. */
export function setFusedUp2(on: boolean): void {
  fusedAllowed = on;
}
/** True when the fused chain will be used (WebGPU backend, not switched off). */
export const up2FusedActive = (): boolean => fusedAllowed && gpuKernelsAvailable();

/** tfjs-webgpu binds at most maxStorageBuffersPerShaderStage − 1 inputs; 8 is WebGPU's default limit */
const MAX_INPUTS = 7;
/** row-pass columns per thread of the tap-gradient programs */
const TAP_COLS = 32;

interface Level {
  C: number;
  h: number;
  w: number;
}

/**
 * WGSL expression reading channel c, row y, column x of F_k (or of dF_k: same layout) from
 * buffer `buf`: pixel-major for k = 0, channel-major otherwise; for k = L−1 (one channel),
 * `fromCanvas` reads grid L−1 in the canvas instead.
 */
function readExpr(lay: Layout, k: number, buf: string, c: string, y: string, x: string, fromCanvas: boolean): string {
  const L = lay.arch.L;
  const g = lay.grids[k];
  if (fromCanvas) return `${buf}[(${g.y} + ${y}) * ${lay.Wc} + ${g.x} + ${x}]`;
  if (k === 0) return `${buf}[(${y} * ${g.w} + ${x}) * ${L} + ${c}]`;
  return `${buf}[((${c}) * ${g.h} + ${y}) * ${g.w} + ${x}]`;
}

// T holds the 4 taps from T[off] (off 0: the taps alone; else theta, the taps at their
// offset); output o = 2i + p reads position i−2+p+j with tap j (p = 0) or 3−j (p = 1)
const wgslTaps = (off: number) => `
      fn tapOf(p : i32, j : i32) -> f32 {
        return T[${off ? `${off} + ` : ''}select(j, 3 - j, p == 1)];
      }
      // weight of input m (of n, edges replicated) in up2 output o
      fn wOf(o : i32, m : i32, n : i32) -> f32 {
        let i = o / 2;
        let p = o % 2;
        var s = 0.0;
        for (var j = 0; j < 4; j++) {
          if (clamp(i - 2 + p + j, 0, n - 1) == m) { s = s + tapOf(p, j); }
        }
        return s;
      }`;

export class Up2Chain {
  private readonly levels: Level[];
  private readonly fn: (canvas: tf.Tensor, taps: tf.Tensor) => tf.Tensor2D;
  private readonly fnTheta: (canvas: tf.Tensor, theta: tf.Tensor) => tf.Tensor2D;
  /** distinguishes the shader keys of different layouts (sizes are baked into the code) */
  private readonly key: string;
  /** the taps' offset in theta */
  private readonly tapOff: number;

  /**
   * `members` K: K models of the same layout at once (members.ts): canvas [K, Hc, Wc, 1],
   * taps [K, 4], F_0 [K·H·W, L] (member-major); every program is one dispatch for all K.
   */
  constructor(readonly lay: Layout, readonly members = 1) {
    const L = lay.arch.L;
    this.levels = lay.grids.map((g, k) => ({ C: L - k, h: g.h, w: g.w }));
    this.key = `${L}_${lay.width}x${lay.height}_${lay.Hc}x${lay.Wc}`;
    this.tapOff = lay.offsets[lay.tapsIndex];
    // off 0: T is the taps [K, 4]; else theta [K·nTheta] (taps at off, gradient full-size)
    const make = (off: number) => tf.customGrad(((canvas: tf.Tensor, T: tf.Tensor, save: tf.GradSaveFunc) => {
      const Fs = this.forward(canvas, T, off);
      save([canvas, T, ...Fs]);
      return {
        value: Fs[0] as tf.Tensor2D,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => this.backward(dy, saved[0], saved[1], saved.slice(2), off),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (canvas: tf.Tensor, T: tf.Tensor) => tf.Tensor2D;
    this.fn = make(0);
    this.fnTheta = make(this.tapOff);
  }

  /**
   * F_0 as [H·W, L] rows from the canvas [1, Hc, Wc, 1] and the taps [4]; with K members
   * [K·H·W, L] from [K, Hc, Wc, 1] and [K, 4]. Differentiable.
   */
  apply(canvas: tf.Tensor4D, taps: tf.Tensor): tf.Tensor2D {
    if (this.lay.arch.L === 1) return tf.reshape(canvas, [this.members * this.lay.Hc * this.lay.Wc, 1]);
    return this.fn(canvas, taps);
  }

  /**
   * `apply` with the taps read from theta [K·nTheta] in place, the gradient full-size (zeros
   * outside the taps). Why: slicing the taps out of theta is a dispatch forward and its
   * gradient's pad another backward, each training step.
   */
  applyTheta(canvas: tf.Tensor4D, theta: tf.Tensor): tf.Tensor2D {
    if (this.lay.arch.L === 1) return tf.reshape(canvas, [this.members * this.lay.Hc * this.lay.Wc, 1]);
    if (this.tapOff === 0) throw new Error('up2: the taps cannot open theta (the ARM does)');
    return this.fnTheta(canvas, theta);
  }

  /**
   * `applyTheta`'s forward outside the tape, for an op that wraps several parts
   * (loss-gpu.ts): [F_0, F_1, …] (F_0 the features; all of them for `gradsTheta`).
   * REQUIRES: L > 1.
   */
  partsTheta(canvas: tf.Tensor, theta: tf.Tensor): tf.Tensor[] {
    return this.forward(canvas, theta, this.tapOff);
  }

  /**
   * `applyTheta`'s gradients [d canvas, d theta] from dF_0 and partsTheta's Fs; d theta is
   * acc with the taps' gradient added (acc: the full-size theta gradient of the op's other
   * parts, 0 at the taps): the sum the tape would otherwise add with a dispatch.
   */
  gradsTheta(dy: tf.Tensor, canvas: tf.Tensor, theta: tf.Tensor, Fs: tf.Tensor[], acc: tf.Tensor): tf.Tensor[] {
    return this.backward(dy, canvas, theta, Fs, this.tapOff, acc);
  }

  /** shader-key part of the layout and the taps' offset (baked into the code) */
  private keyOf(off: number): string {
    return off ? `${this.key}_t${off}` : this.key;
  }

  /** [F_0, F_1, …, F_{L−2}] (F_{L−1} stays in the canvas). */
  private forward(canvas: tf.Tensor, taps: tf.Tensor, off: number): tf.Tensor[] {
    const L = this.lay.arch.L;
    const Fs: tf.Tensor[] = new Array(L - 1);
    for (let k = L - 2; k >= 0; k--) {
      const lv = this.levels[k];
      const src = this.levels[k + 1];
      const top = k + 1 === L - 1;
      const g = this.lay.grids[k];
      const decode = k === 0
        ? `let c = index % ${lv.C}; let pix = index / ${lv.C}; let y = pix / ${lv.w}; let x = pix % ${lv.w};`
        : `let c = index / ${lv.h * lv.w}; let rem = index % ${lv.h * lv.w}; let y = rem / ${lv.w}; let x = rem % ${lv.w};`;
      const code = `${wgslTaps(off)}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${decode}
          if (c == ${lv.C - 1}) {
            setOutputAtIndex(index, G[(${g.y} + y) * ${this.lay.Wc} + ${g.x} + x]);
            return;
          }
          let iy = y / 2;
          let py = y % 2;
          let ix = x / 2;
          let px = x % 2;
          var acc = 0.0;
          for (var j = 0; j < 4; j++) {
            let cx = clamp(ix - 2 + px + j, 0, ${src.w - 1});
            var r = 0.0;
            for (var i = 0; i < 4; i++) {
              let ry = clamp(iy - 2 + py + i, 0, ${src.h - 1});
              r = r + tapOf(py, i) * ${readExpr(this.lay, k + 1, top ? 'G' : 'S', 'c', 'ry', 'cx', top)};
            }
            acc = acc + tapOf(px, j) * r;
          }
          setOutputAtIndex(index, acc);
        }
      }`;
      const shape = k === 0 ? [lv.h * lv.w, lv.C] : [lv.C, lv.h, lv.w];
      const names = top ? ['G', 'T'] : ['S', 'G', 'T'];
      const inputs = top ? [canvas, taps] : [Fs[k + 1], canvas, taps];
      Fs[k] = runMembers(flatProgram(`nimg_up2f_${this.keyOf(off)}_${k}`, names, shape, code), inputs, this.members);
    }
    return Fs;
  }

  /** Gradients [d canvas, d taps] from dF_0 [H·W, L] (saved: canvas, taps, F_0 … F_{L−2}; F_{L−1} is read from the canvas). */
  private backward(dy: tf.Tensor, canvas: tf.Tensor, taps: tf.Tensor, Fs: tf.Tensor[], off: number, base?: tf.Tensor): tf.Tensor[] {
    const L = this.lay.arch.L;
    const lay = this.lay;
    // dF_{k+1} = up2ᵀ(first C_{k+1} channels of dF_k)
    const dF: tf.Tensor[] = [dy];
    for (let k = 0; k < L - 1; k++) {
      const lv = this.levels[k];
      const dst = this.levels[k + 1];
      const code = `${wgslTaps(off)}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index / ${dst.h * dst.w};
          let rem = index % ${dst.h * dst.w};
          let m = rem / ${dst.w};
          let n = rem % ${dst.w};
          let x0 = max(2 * n - 4, 0);
          let x1 = min(2 * n + 5, ${lv.w - 1});
          // the ≤ 10 column weights once, not once per row
          var wx = array<f32, 10>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
          for (var x = x0; x <= x1; x++) { wx[x - x0] = wOf(x, n, ${dst.w}); }
          var acc = 0.0;
          for (var y = max(2 * m - 4, 0); y <= min(2 * m + 5, ${lv.h - 1}); y++) {
            var s = 0.0;
            for (var x = x0; x <= x1; x++) {
              s = s + wx[x - x0] * ${readExpr(lay, k, 'D', 'c', 'y', 'x', false)};
            }
            acc = acc + wOf(y, m, ${dst.h}) * s;
          }
          setOutputAtIndex(index, acc);
        }
      }`;
      dF.push(runMembers(flatProgram(`nimg_up2b_${this.keyOf(off)}_${k}`, ['D', 'T'], [dst.C, dst.h, dst.w], code), [dF[k], taps], this.members));
    }
    // tap partials, one program per level: thread = row (c, y) of level k's row-pass result
    const partials: tf.Tensor[] = [];
    for (let k = 0; k < L - 1; k++) {
      const lv = this.levels[k];
      const src = this.levels[k + 1];
      const top = k + 1 === L - 1;
      // one thread per (row, block of TAP_COLS row-pass columns): a whole row per thread
      // would leave a large GPU nearly idle (6·512 threads at 768x512) with long serial loops
      const rows = src.C * lv.h;
      const blocks = Math.ceil(src.w / TAP_COLS);
      const F = (ry: string, cx: string) => readExpr(lay, k + 1, 'S', 'c', ry, cx, top);
      const code = `${wgslTaps(off)}
      fn main(index : i32) {
        // (uniforms read so the automatic layout keeps the binding tfjs fills)
        if (index * 4 < uniforms.size) {
          let row = index / ${blocks};
          let b = index % ${blocks};
          let c = row / ${lv.h};
          let y = row % ${lv.h};
          let iy = y / 2;
          let py = y % 2;
          var g = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
          // row pass: R[y][x'] = Σ_i tap(py, i) F[c][clamp(iy−2+py+i)][x']; dt += dR · F
          for (var xs = b * ${TAP_COLS}; xs < min((b + 1) * ${TAP_COLS}, ${src.w}); xs++) {
            var dr = 0.0;
            for (var x = max(2 * xs - 4, 0); x <= min(2 * xs + 5, ${lv.w - 1}); x++) {
              dr = dr + wOf(x, xs, ${src.w}) * ${readExpr(lay, k, 'D', 'c', 'y', 'x', false)};
            }
            for (var i = 0; i < 4; i++) {
              let ry = clamp(iy - 2 + py + i, 0, ${src.h - 1});
              let t = select(i, 3 - i, py == 1);
              g[t] = g[t] + dr * ${F('ry', 'xs')};
            }
          }
          // column pass: out[y][x] = Σ_j tap(px, j) R[y][clamp(ix−2+px+j)]; dt += dOut · R
          // (outputs 2·b·TAP_COLS … : the blocks cover 0 … 2·w_{k+1} − 1 ⊇ 0 … w_k − 1)
          for (var x = 2 * b * ${TAP_COLS}; x < min(2 * (b + 1) * ${TAP_COLS}, ${lv.w}); x++) {
            let d = ${readExpr(lay, k, 'D', 'c', 'y', 'x', false)};
            let ix = x / 2;
            let px = x % 2;
            for (var j = 0; j < 4; j++) {
              let cx = clamp(ix - 2 + px + j, 0, ${src.w - 1});
              var r = 0.0;
              for (var i = 0; i < 4; i++) {
                let ry = clamp(iy - 2 + py + i, 0, ${src.h - 1});
                r = r + tapOf(py, i) * ${F('ry', 'cx')};
              }
              let t = select(j, 3 - j, px == 1);
              g[t] = g[t] + d * r;
            }
          }
          for (var q = 0; q < 4; q++) { result[index * 4 + q] = g[q]; }
        }
      }`;
      const p = flatProgram(`nimg_up2t_${this.keyOf(off)}_${k}`, ['D', 'S', 'T'], [rows * blocks * 4], code);
      // one thread per 4 outputs, not per output element
      p.dispatch = [Math.ceil((rows * blocks) / 64), 1, 1];
      partials.push(runMembers(p, [dF[k], top ? canvas : Fs[k + 1], taps], this.members));
    }
    const dTaps = this.sumPartials(partials, off, base);
    const dCanvas = this.scatter(dF);
    tf.dispose([...dF.slice(1), ...partials]);
    return [dCanvas, dTaps];
  }

  /**
   * Σ over levels, rows and blocks of the [n, 4] partials → [4]: one workgroup of 64 per
   * tap, strided sums then a tree in workgroup memory (a single thread per tap would walk
   * ~50k partials at 768x512 in a dependent chain). Chunks of MAX_INPUTS − 1 inputs plus
   * the running sum. `off` > 0: the last program writes the theta gradient [K·nTheta] (the
   * taps' sums at off … off+3, zeros elsewhere: its workgroups from the 5th on fill them), and
   * with `base` [K·nTheta] base + that.
   */
  private sumPartials(parts: tf.Tensor[], off: number, base?: tf.Tensor): tf.Tensor {
    let acc: tf.Tensor | null = null;
    let i = 0;
    let n = 0;
    const nTheta = this.lay.nTheta;
    while (i < parts.length) {
      // every chunk keeps a slot for the base (only the last binds it)
      const take = Math.min(parts.length - i, MAX_INPUTS - (acc ? 1 : 0) - (base ? 1 : 0));
      const chunk = parts.slice(i, i + take);
      const full = off > 0 && i + take === parts.length;
      const withBase = full && base !== undefined;
      const names = chunk.map((_, j) => `P${j}`);
      const lines = chunk.map((t, j) => `for (var r = l; r < ${t.size / (4 * this.members)}; r += 64) { s = s + P${j}[r * 4 + q]; }`).join('\n          ');
      const put = (v: string) => (full ? `result[${off} + q] = ${withBase ? `B[${off} + q] + ` : ''}${v};` : `setOutputAtIndex(q, ${v});`);
      // no bounds test around the barriers (they need uniform control flow): workgroups 0 … 3
      // sum the taps (the zero-filling ones of `full` sum nothing and pass the same barriers)
      const code = `
      var<workgroup> red : array<f32, 64>;
      fn main(index : i32) {
        let q = i32(workgroupId.x);
        let l = i32(localIndex);
        var s = 0.0;
        if (q < 4) {
          ${lines}
        }
        red[l] = s;
        workgroupBarrier();
        for (var h = 32; h > 0; h = h / 2) {
          if (l < h) { red[l] = red[l] + red[l + h]; }
          workgroupBarrier();
        }
        if (l == 0 && q < min(uniforms.size, 4)) {
          ${put(acc ? 'A[q] + red[0]' : 'red[0]')}
        }${full ? `
        let e = (q - 4) * 64 + l;
        if (q >= 4 && e < uniforms.size && (e < ${off} || e >= ${off + 4})) { result[e] = ${withBase ? 'B[e]' : '0.0'}; }` : ''}
      }`;
      const inputs = [...(acc ? [acc] : []), ...chunk, ...(withBase ? [base!] : [])];
      const vars = [...(acc ? ['A'] : []), ...names, ...(withBase ? ['B'] : [])];
      const p = flatProgram(`nimg_up2s_${this.keyOf(full ? off : 0)}_${n++}_${acc ? 1 : 0}${withBase ? 'b' : ''}`, vars, [full ? nTheta : 4], code);
      p.dispatch = [full ? 4 + Math.ceil(nTheta / 64) : 4, 1, 1];
      const out = runMembers(p, inputs, this.members);
      if (acc) acc.dispose();
      acc = full ? out : tf.reshape(out, this.members === 1 ? [4] : [this.members, 4]);
      if (acc !== out) out.dispose();
      i += take;
    }
    return acc!;
  }

  /** [K, Hc, Wc, 1]: grid k's gradient (last channel of dF_k) at its place, 0 in the gaps. */
  private scatter(dF: tf.Tensor[]): tf.Tensor {
    const lay = this.lay;
    const L = lay.arch.L;
    let acc: tf.Tensor | null = null;
    let k0 = 0;
    let n = 0;
    while (k0 < L) {
      const take = Math.min(L - k0, acc ? MAX_INPUTS - 1 : MAX_INPUTS);
      const branches: string[] = [];
      for (let k = k0; k < k0 + take; k++) {
        const g = lay.grids[k];
        const lv = this.levels[k];
        branches.push(`if (Y >= ${g.y} && Y < ${g.y + g.h} && X >= ${g.x} && X < ${g.x + g.w}) {
            v = ${readExpr(lay, k, `D${k - k0}`, String(lv.C - 1), `(Y - ${g.y})`, `(X - ${g.x})`, false)};
          }`);
      }
      const code = `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let Y = index / ${lay.Wc};
          let X = index % ${lay.Wc};
          var v = ${acc ? 'A[index]' : '0.0'};
          ${branches.join(' else ')}
          setOutputAtIndex(index, v);
        }
      }`;
      const names = Array.from({ length: take }, (_, j) => `D${j}`);
      const chunk = dF.slice(k0, k0 + take);
      const out: tf.Tensor = runMembers(flatProgram(`nimg_up2c_${this.key}_${n++}_${acc ? 1 : 0}`, acc ? ['A', ...names] : names, [1, lay.Hc, lay.Wc, 1], code), acc ? [acc, ...chunk] : chunk, this.members);
      if (acc) acc.dispose();
      acc = out;
      k0 += take;
    }
    return acc!;
  }
}
