/**
 * The synthesis of SPEC §1 (F_0 → RGB) and its MSE as fused WGSL programs on tfjs WebGPU,
 * forward and backward, with gradients for F_0 and every synthesis parameter.
 *
 * Why: a training step on WebGPU is set by the fixed cost of each dispatch, and the tfjs
 * ops of forward.ts `synth` (im2col conv, transposes, fused matMuls, residual adds, the
 * MSE, plus all their backward kernels) were a large share of the dispatches of a step.
 * Here the default architecture costs 4 programs forward (with the MSE) and 4 backward,
 * whatever the image size.
 *
 * Segments. The layers are cut into segments: a run of consecutive 1x1 layers ('R': per
 * pixel, all channels in private arrays) or one 3x3 layer ('T': reads a 3x3 neighbourhood).
 * Forward: one program per segment writing its output X_s [H·W, C_s] (the last one, in MSE
 * mode, writes E = X − target instead), then one workgroup reduction Σ E² / (3·H·W).
 *
 * Backward (mode 'mse': the last output's gradient is g = dy · 2/(3·H·W) · E; mode 'rgb':
 * the upstream [H·W, 3]). With Z the pre-activation of a T layer, dZ = dX ⊙ act'(Z) and
 *   dX_in[p] = (residual ? dX[p] : 0) + Σ_{o,ky,kx} W[o][i][ky][kx] · dZ[p − (ky−1, kx−1)]
 * a gather (no atomics; outputs outside the image do not exist, which is 'same' zero
 * padding's transpose). Each T segment that needs it gets a program writing (dX, dZ) per
 * pixel, [H·W, 2C] — Z recomputed from the stored input; a last T layer without activation
 * needs none (dX = dZ = g, read in place). The gradient at an R segment's output is always
 * computed where it is used, by recomputing the run's forward in registers and back-
 * propagating through it. One program writes dF_0.
 * Parameter gradients: per workgroup of up to 64 pixels (fewer where the stash would pass
 * 16 KiB: 32 for the default arch), each thread puts its pixel's dZ of every layer (and,
 * for 1x1 layers, the layer's input) in workgroup memory, then after one barrier the
 * threads sum, one parameter each (strided), over the workgroup's pixels → partials
 * [workgroups, params]; segments are grouped into as few such programs as the input and
 * memory limits allow (one for the default arch), then one reduction program sums the
 * partials of every parameter and writes the theta gradient FULL-SIZE ([nTheta], zeros
 * outside the synthesis part, so tfjs adds it to the ARM's gradient as is).
 * Cost note: SwiftShader (CI) runs the partials program slowly (a default-arch step at
 * 24x16 there: ~0.5–1 s before → ~2–3 s; see partialProgram), a CPU-emulation cost; its
 * arithmetic is a few thousand flops a pixel (the 1x1 run's recompute and ~1000 MACs of
 * parameter sums for the default arch).
 *
 * Dispatches, default arch: forward 3 segments + the MSE sum; backward (dX, dZ) of the
 * first 3x3, dF_0, one partials program, one reduction. Any arch: forward S_seg + 1,
 * backward (T segments with a program) + 1 + groups + 1.
 *
 * Arithmetic follows the tfjs path's order closely but not bit for bit (the encoder needs
 * float closeness only; WGSL may contract to FMA). Architectures whose programs would not
 * fit (channels over MAXC, too many bound inputs, huge images) fall back to the tfjs path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, gpuKernelsAvailable } from '../../../model/gpu-kernels.js';
import { runMembers } from './members.js';
import type { Layout } from './model.js';

let fusedAllowed = true;
/** Turn the fused synthesis off (true: back on) — for A/B benchmarks and tests; on by default. */
export function setFusedSynth(on: boolean): void {
  fusedAllowed = on;
}

/** tfjs-webgpu binds at most maxStorageBuffersPerShaderStage − 1 inputs; 8 is WebGPU's default limit */
const MAX_INPUTS = 7;
/**
 * channels kept in private arrays per layer (registers, or spilled to private memory);
 * more → the tfjs path. 48 admits Cool-chic's largest synthesis shape (L→40→3) for studies.
 */
const MAXC = 48;
/** pixels per workgroup of the parameter-gradient programs */
const WG = 64;
/** workgroup size of the reductions */
const RED = 256;
/** parameters per workgroup of the parameter-gradient reduction */
const RED_P = 32;
/** WebGPU's default maxComputeWorkgroupsPerDimension */
const MAX_GROUPS = 65535;
/**
 * The most pixels a layout may have (plan(): the parameter-gradient programs index their
 * workgroups along x only, WG pixels each). The forward alone would not need it, but the
 * class takes no layout beyond it; the WebGPU decode (decode-gpu.ts) refuses larger images.
 */
export const SYNTH_MAX_PIXELS = MAX_GROUPS * WG;

interface Seg {
  kind: 'R' | 'T';
  /** layer indices (one for T) */
  layers: number[];
  cin: number;
  cout: number;
}

type Mode = 'mse' | 'rgb';

/** A program under construction: WGSL helper functions and the buffers its code reads. */
class Code {
  readonly need = new Set<string>();
  readonly fns = new Map<string, string>();
  use(name: string): string {
    this.need.add(name);
    return name;
  }
}

/** Segments of an arch's synthesis, or a reason why the fused programs do not take it. */
function plan(lay: Layout): Seg[] | string {
  const { arch } = lay;
  const segs: Seg[] = [];
  let c = arch.L;
  arch.synthesis.forEach((l, i) => {
    const last = segs[segs.length - 1];
    if (l.kind === '1x1' && last && last.kind === 'R') {
      last.layers.push(i);
      last.cout = l.out;
    } else {
      segs.push({ kind: l.kind === '1x1' ? 'R' : 'T', layers: [i], cin: c, cout: l.out });
    }
    c = l.out;
  });
  if (c !== 3) return 'last layer does not give 3 channels';
  let ch = arch.L;
  for (const l of arch.synthesis) {
    if (l.out > MAXC || ch > MAXC) return `more than ${MAXC} channels`;
    if (l.residual && l.out !== ch) return 'residual with in != out';
    ch = l.out;
  }
  if (lay.width * lay.height > SYNTH_MAX_PIXELS) return `image of ${lay.width * lay.height} pixels: more than ${SYNTH_MAX_PIXELS} (one dispatch row)`;
  return segs;
}

const f32 = (v: number): string => {
  const s = String(Math.fround(v));
  return /[.eE]/.test(s) ? s : `${s}.0`;
};

export class SynthGpu {
  private readonly segs: Seg[];
  private readonly HW: number;
  private readonly key: string;
  /** start of the synthesis part of theta and its length */
  private readonly synStart: number;
  private readonly nSyn: number;
  /** why the fused programs do not take this layout ('' when they do) */
  readonly problem: string;
  private readonly mseFn: (F0: tf.Tensor, theta: tf.Tensor) => tf.Scalar;
  private readonly rgbFn: (F0: tf.Tensor, theta: tf.Tensor) => tf.Tensor2D;
  private target: tf.Tensor | null = null;
  /** generated programs by mode (the code depends only on the layout) */
  private readonly fwdCache = new Map<string, ReturnType<SynthGpu['forwardProgram']>>();
  private readonly bwdCache = new Map<Mode, ReturnType<SynthGpu['backwardPrograms']>>();

  /**
   * `members` K: K models of the layout on the same image at once (members.ts): F_0
   * [K·H·W, L], theta [K·nTheta], the target [H·W, 3] shared, mse [K] (a scalar for K = 1),
   * rgb [K·H·W, 3]; each program one dispatch for all K.
   */
  constructor(readonly lay: Layout, readonly members = 1) {
    const p = plan(lay);
    this.segs = typeof p === 'string' ? [] : p;
    this.HW = lay.width * lay.height;
    const a = lay.arch;
    this.key = `${a.L}_${a.synthesis.map((l) => `${l.kind}${l.out}${l.act[0]}${l.residual ? 'r' : ''}`).join('-')}_${lay.width}x${lay.height}_${lay.offsets[lay.synthIndex]}_${lay.nTheta}`;
    this.synStart = lay.offsets[lay.synthIndex];
    this.nSyn = lay.nTheta - this.synStart;
    let problem = typeof p === 'string' ? p : '';
    if (!problem) {
      // build every program once (cheap strings) to check the input limit
      try {
        for (const mode of ['mse', 'rgb'] as Mode[]) {
          this.segs.forEach((_, s) => this.fwdCache.set(`${mode}${s}`, this.forwardProgram(s, mode)));
          this.bwdCache.set(mode, this.backwardPrograms(mode));
        }
      } catch (e) {
        problem = (e as Error).message;
      }
    }
    this.problem = problem;
    const make = (mode: Mode) => tf.customGrad(((F0: tf.Tensor, theta: tf.Tensor, save: tf.GradSaveFunc) => {
      const Xs = this.forward(F0, theta, mode);
      save([F0, theta, ...Xs]);
      const value = mode === 'mse' ? this.mseOf(Xs[Xs.length - 1]) : tf.reshape(Xs[Xs.length - 1], [this.members * this.HW, 3]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => this.backward(mode, dy, saved[0], saved[1], saved.slice(2)),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    this.mseFn = make('mse') as unknown as (F0: tf.Tensor, theta: tf.Tensor) => tf.Scalar;
    this.rgbFn = make('rgb') as unknown as (F0: tf.Tensor, theta: tf.Tensor) => tf.Tensor2D;
  }

  /** True when the fused programs run this layout now (WebGPU backend, not switched off, arch fits). */
  active(): boolean {
    return fusedAllowed && !this.problem && gpuKernelsAvailable();
  }

  /** mean((synth(F_0) − target)²) as a scalar; differentiable in F_0 [H·W, L] and theta (full size). */
  mse(F0: tf.Tensor2D, theta: tf.Tensor1D, target: tf.Tensor2D): tf.Scalar {
    this.target = target;
    try {
      return this.mseFn(F0, theta);
    } finally {
      this.target = null;
    }
  }

  /** synth(F_0) as [H·W, 3] RGB rows; differentiable in F_0 and theta. */
  rgb(F0: tf.Tensor2D, theta: tf.Tensor1D): tf.Tensor2D {
    return this.rgbFn(F0, theta);
  }

  /**
   * `mse`'s forward outside the tape, for an op that wraps several parts (loss-gpu.ts): the
   * mse ([K], a scalar for K = 1) and the segment outputs Xs that `mseGrads` needs.
   */
  mseParts(F0: tf.Tensor, theta: tf.Tensor, target: tf.Tensor): { mse: tf.Tensor; Xs: tf.Tensor[] } {
    this.target = target;
    try {
      const Xs = this.forward(F0, theta, 'mse');
      return { mse: this.mseOf(Xs[Xs.length - 1]), Xs };
    } finally {
      this.target = null;
    }
  }

  /** `mse`'s gradients [dF_0, dTheta (full size)] from its upstream dy and mseParts' Xs. */
  mseGrads(dy: tf.Tensor, F0: tf.Tensor, theta: tf.Tensor, Xs: tf.Tensor[]): tf.Tensor[] {
    return this.backward('mse', dy, F0, theta, Xs);
  }

  // ---- WGSL generation ----

  private wOff(l: number): number {
    return this.lay.offsets[this.lay.synthIndex + 2 * l];
  }
  private bOff(l: number): number {
    return this.lay.offsets[this.lay.synthIndex + 2 * l + 1];
  }
  /** the buffer holding segment s's input: F_0 or X_{s−1} */
  private inBuf(s: number): string {
    return s === 0 ? 'F' : `X${s - 1}`;
  }
  private last(s: number): boolean {
    return s === this.segs.length - 1;
  }
  /** T segment s's (dX, dZ) need no program: the last layer without activation (both = g) */
  private virtualT(s: number): boolean {
    return this.last(s) && this.lay.arch.synthesis[this.segs[s].layers[0]].act === 'none';
  }

  /** gradient of the synthesis output at pixel q, channel c */
  private gLast(g: Code, mode: Mode, q: string, c: string): string {
    if (mode === 'rgb') return `${g.use('DR')}[(${q}) * 3 + ${c}]`;
    return `(${g.use('DY')}[0] * ${f32(2 / (3 * this.HW))} * ${g.use('E')}[(${q}) * 3 + ${c}])`;
  }
  /** dX (which = 0) or dZ (which = 1) of T segment s at pixel q, channel c */
  private dT(g: Code, mode: Mode, s: number, which: 0 | 1, q: string, c: string): string {
    if (this.virtualT(s)) return this.gLast(g, mode, q, c);
    const C = this.segs[s].cout;
    return `${g.use(`D${s}`)}[(${q}) * ${2 * C} + ${which * C} + ${c}]`;
  }

  /** WGSL fn zT{s}(y, x, o): pre-activation of T segment s at pixel (y, x), channel o */
  private zT(g: Code, s: number): string {
    const name = `zT${s}`;
    if (g.fns.has(name)) return name;
    const sg = this.segs[s];
    const c = sg.cin;
    const { width: W, height: H } = this.lay;
    const l = sg.layers[0];
    const IN = g.use(this.inBuf(s));
    const TH = g.use('TH');
    // SPEC's order: b, then (in, ky, kx); rows / columns outside the image skipped (zero padding)
    g.fns.set(name, `
      fn ${name}(y : i32, x : i32, o : i32) -> f32 {
        var acc = ${TH}[${this.bOff(l)} + o];
        for (var i = 0; i < ${c}; i++) {
          for (var ky = 0; ky < 3; ky++) {
            let yy = y + ky - 1;
            if (yy < 0 || yy >= ${H}) { continue; }
            for (var kx = 0; kx < 3; kx++) {
              let xx = x + kx - 1;
              if (xx < 0 || xx >= ${W}) { continue; }
              acc = acc + ${TH}[${this.wOff(l)} + ((o * ${c} + i) * 3 + ky) * 3 + kx] * ${IN}[(yy * ${W} + xx) * ${c} + i];
            }
          }
        }
        return acc;
      }`);
    return name;
  }

  /** WGSL fn igT{s}(y, x, i): gradient of T segment s's input at pixel (y, x), channel i (a gather) */
  private igT(g: Code, mode: Mode, s: number): string {
    const name = `igT${s}`;
    if (g.fns.has(name)) return name;
    const sg = this.segs[s];
    const { width: W, height: H } = this.lay;
    const l = sg.layers[0];
    const res = this.lay.arch.synthesis[l].residual;
    const TH = g.use('TH');
    // output pixel (yy, xx) reads input (yy + ky − 1, xx + kx − 1) = (y, x)
    g.fns.set(name, `
      fn ${name}(y : i32, x : i32, i : i32) -> f32 {
        var acc = ${res ? this.dT(g, mode, s, 0, 'y * ' + W + ' + x', 'i') : '0.0'};
        for (var o = 0; o < ${sg.cout}; o++) {
          for (var ky = 0; ky < 3; ky++) {
            let yy = y - ky + 1;
            if (yy < 0 || yy >= ${H}) { continue; }
            for (var kx = 0; kx < 3; kx++) {
              let xx = x - kx + 1;
              if (xx < 0 || xx >= ${W}) { continue; }
              acc = acc + ${TH}[${this.wOff(l)} + ((o * ${sg.cin} + i) * 3 + ky) * 3 + kx] * ${this.dT(g, mode, s, 1, 'yy * ' + W + ' + xx', 'o')};
            }
          }
        }
        return acc;
      }`);
    return name;
  }

  /**
   * Statements running R segment s's forward at pixel q into private arrays `${pre}a0`
   * (input), `${pre}z${j}` / `${pre}a${j}` (pre-activation / output of its j-th layer, 1-based).
   * `valid`: a WGSL bool; when false the input reads as 0 (out-of-image threads).
   */
  private rForward(g: Code, s: number, q: string, pre: string, valid = 'true'): string {
    const sg = this.segs[s];
    const IN = g.use(this.inBuf(s));
    const TH = g.use('TH');
    const out: string[] = [];
    out.push(`var ${pre}a0 : array<f32, ${sg.cin}>;
          for (var i = 0; i < ${sg.cin}; i++) { ${pre}a0[i] = select(0.0, ${IN}[(${q}) * ${sg.cin} + i], ${valid}); }`);
    let c = sg.cin;
    sg.layers.forEach((l, j0) => {
      const j = j0 + 1;
      const ly = this.lay.arch.synthesis[l];
      const o = ly.out;
      const act = ly.act === 'relu' ? 'max(acc, 0.0)' : 'acc';
      out.push(`var ${pre}z${j} : array<f32, ${o}>;
          var ${pre}a${j} : array<f32, ${o}>;
          for (var o = 0; o < ${o}; o++) {
            var acc = ${TH}[${this.bOff(l)} + o];
            for (var i = 0; i < ${c}; i++) { acc = acc + ${TH}[${this.wOff(l)} + o * ${c} + i] * ${pre}a${j - 1}[i]; }
            ${pre}z${j}[o] = acc;
            ${pre}a${j}[o] = ${ly.residual ? `${pre}a${j - 1}[o] + ${act}` : act};
          }`);
      c = o;
    });
    return out.join('\n          ');
  }

  /**
   * Statements back-propagating R segment s (after rForward with the same `pre`) from the
   * gradient array `gOut` of its output: `${pre}d${j}` = dZ of layer j, `${pre}g${j}` the
   * gradient of layer j's output (`${pre}g0`: of the segment's input).
   */
  private rBackward(g: Code, s: number, gOut: string, pre: string): string {
    const sg = this.segs[s];
    const TH = g.use('TH');
    const n = sg.layers.length;
    const out: string[] = [`var ${pre}g${n} = ${gOut};`];
    for (let j = n; j >= 1; j--) {
      const l = sg.layers[j - 1];
      const ly = this.lay.arch.synthesis[l];
      const c = j === 1 ? sg.cin : this.lay.arch.synthesis[sg.layers[j - 2]].out;
      const o = ly.out;
      const dz = ly.act === 'relu' ? `select(0.0, ${pre}g${j}[o], ${pre}z${j}[o] > 0.0)` : `${pre}g${j}[o]`;
      out.push(`var ${pre}d${j} : array<f32, ${o}>;
          for (var o = 0; o < ${o}; o++) { ${pre}d${j}[o] = ${dz}; }
          var ${pre}g${j - 1} : array<f32, ${c}>;
          for (var i = 0; i < ${c}; i++) {
            var acc = ${ly.residual ? `${pre}g${j}[i]` : '0.0'};
            for (var o = 0; o < ${o}; o++) { acc = acc + ${TH}[${this.wOff(l)} + o * ${c} + i] * ${pre}d${j}[o]; }
            ${pre}g${j - 1}[i] = acc;
          }`);
    }
    return out.join('\n          ');
  }

  /**
   * Statements computing the gradient of segment s's output at the thread's pixel (p, y, x)
   * into a private array; returns [code, array name].
   */
  private gradAt(g: Code, mode: Mode, s: number, pre: string, valid = 'true'): [string, string] {
    const C = this.segs[s].cout;
    const name = `${pre}go`;
    if (this.last(s)) {
      return [`var ${name} : array<f32, 3>;
          for (var c = 0; c < 3; c++) { ${name}[c] = select(0.0, ${this.gLast(g, mode, 'p', 'c')}, ${valid}); }`, name];
    }
    const nx = this.segs[s + 1];
    if (nx.kind === 'T') {
      const fn = this.igT(g, mode, s + 1);
      return [`var ${name} : array<f32, ${C}>;
          for (var c = 0; c < ${C}; c++) { ${name}[c] = select(0.0, ${fn}(y, x, c), ${valid}); }`, name];
    }
    // the next segment is a 1x1 run: recompute it at this pixel and back-propagate
    const sub = `${pre}r${s + 1}_`;
    const [code, gn] = this.gradAt(g, mode, s + 1, sub, valid);
    return [`${this.rForward(g, s + 1, 'p', sub, valid)}
          ${code}
          ${this.rBackward(g, s + 1, gn, sub)}`, `${sub}g0`];
  }

  private inputs(g: Code, order: string[]): string[] {
    const names = order.filter((n) => g.need.has(n));
    for (const n of g.need) if (!names.includes(n)) throw new Error(`synth-gpu: unbound buffer ${n}`);
    if (names.length > MAX_INPUTS) throw new Error(`a program would bind ${names.length} > ${MAX_INPUTS} inputs`);
    return names;
  }

  /** every buffer name a program may read, in binding order */
  private allNames(): string[] {
    return ['F', 'TH', 'TG', 'E', 'DY', 'DR', ...this.segs.map((_, s) => `X${s}`), ...this.segs.map((_, s) => `D${s}`)];
  }

  private pixelHeader(): string {
    const W = this.lay.width;
    return `let p = index;
          let y = p / ${W};
          let x = p % ${W};`;
  }

  /** a program with one thread per pixel (output of any row width) */
  private perPixel(name: string, g: Code, outShape: number[], body: string) {
    const names = this.inputs(g, this.allNames());
    const code = `${[...g.fns.values()].join('\n')}
      fn main(index : i32) {
        // (uniforms read so the automatic layout keeps the binding tfjs fills)
        if (index < ${this.HW} && index < uniforms.size) {
          ${this.pixelHeader()}
          ${body}
        }
      }`;
    const prog = flatProgram(`nimg_syn_${name}_${this.key}`, names, outShape, code);
    prog.dispatch = [Math.ceil(this.HW / 64), 1, 1];
    return { prog, names };
  }

  /** forward of segment s: X_s (or, last segment in mse mode, E = X − target) */
  private forwardProgram(s: number, mode: Mode) {
    const sg = this.segs[s];
    const g = new Code();
    const sub = this.last(s) && mode === 'mse' ? ` - ${g.use('TG')}[p * 3 + o]` : '';
    let body: string;
    if (sg.kind === 'R') {
      const n = sg.layers.length;
      body = `${this.rForward(g, s, 'p', 'f')}
          for (var o = 0; o < ${sg.cout}; o++) { result[p * ${sg.cout} + o] = f${'a' + n}[o]${sub}; }`;
    } else {
      const ly = this.lay.arch.synthesis[sg.layers[0]];
      const z = this.zT(g, s);
      const act = ly.act === 'relu' ? `max(${z}(y, x, o), 0.0)` : `${z}(y, x, o)`;
      const IN = g.use(this.inBuf(s));
      body = `for (var o = 0; o < ${sg.cout}; o++) {
            result[p * ${sg.cout} + o] = ${ly.residual ? `${IN}[p * ${sg.cin} + o] + ${act}` : act}${sub};
          }`;
    }
    return this.perPixel(`f${s}${this.last(s) ? mode : ''}`, g, [this.HW, sg.cout], body);
  }

  /** the backward programs of a mode (built in order; names resolved to tensors at run time) */
  private backwardPrograms(mode: Mode) {
    const progs: { prog: ReturnType<typeof flatProgram>; names: string[]; out: string }[] = [];
    // (dX, dZ) of the T segments that need them, last first (each may read a later one)
    for (let s = this.segs.length - 1; s >= 0; s--) {
      const sg = this.segs[s];
      if (sg.kind !== 'T' || this.virtualT(s)) continue;
      const g = new Code();
      const [code, gn] = this.gradAt(g, mode, s, 'b');
      const ly = this.lay.arch.synthesis[sg.layers[0]];
      const dz = ly.act === 'relu' ? `select(0.0, ${gn}[o], ${this.zT(g, s)}(y, x, o) > 0.0)` : `${gn}[o]`;
      const body = `${code}
          for (var o = 0; o < ${sg.cout}; o++) {
            result[p * ${2 * sg.cout} + o] = ${gn}[o];
            result[p * ${2 * sg.cout} + ${sg.cout} + o] = ${dz};
          }`;
      progs.push({ ...this.perPixel(`d${s}${mode}`, g, [this.HW, 2 * sg.cout], body), out: `D${s}` });
    }
    // dF_0
    {
      const g = new Code();
      const L = this.lay.arch.L;
      let body: string;
      if (this.segs[0].kind === 'T') {
        body = `for (var i = 0; i < ${L}; i++) { result[p * ${L} + i] = ${this.igT(g, mode, 0)}(y, x, i); }`;
      } else {
        const [code, gn] = this.gradAt(g, mode, 0, 'b');
        body = `${this.rForward(g, 0, 'p', 'r')}
          ${code}
          ${this.rBackward(g, 0, gn, 'r')}
          for (var i = 0; i < ${L}; i++) { result[p * ${L} + i] = rg0[i]; }`;
      }
      progs.push({ ...this.perPixel(`dF${mode}`, g, [this.HW, L], body), out: 'dF' });
    }
    // parameter partials: greedy groups of consecutive segments within the input limit
    const groups: number[][] = [];
    let cur: number[] = [];
    for (let s = 0; s < this.segs.length; s++) {
      const tryG = [...cur, s];
      let ok = true;
      try {
        this.partialProgram(mode, tryG, 0);
      } catch {
        ok = false;
      }
      if (ok) cur = tryG;
      else {
        if (!cur.length) throw new Error(`segment ${s}'s gradient program would bind too many inputs`);
        groups.push(cur);
        cur = [s];
        this.partialProgram(mode, cur, 0);
      }
    }
    groups.push(cur);
    if (groups.length > MAX_INPUTS) throw new Error('too many parameter-gradient groups');
    const nWGs: number[] = [];
    groups.forEach((grp, k) => {
      const { prog, names, nWG } = this.partialProgram(mode, grp, k);
      progs.push({ prog, names, out: `P${k}` });
      nWGs.push(nWG);
    });
    return { progs, groups, nWGs };
  }

  /** parameters (theta range) of a group of segments */
  private groupRange(grp: number[]): [number, number] {
    const first = this.segs[grp[0]].layers[0];
    const lastSeg = this.segs[grp[grp.length - 1]];
    const lastL = lastSeg.layers[lastSeg.layers.length - 1];
    return [this.wOff(first), this.bOff(lastL) + this.lay.arch.synthesis[lastL].out];
  }

  /** pixels per workgroup of a group's partial program: its stash (floats per pixel) within 16 KiB */
  private groupWgp(grp: number[]): number {
    let row = 0;
    for (const s of grp) {
      const sg = this.segs[s];
      if (sg.kind === 'T') row += sg.cout;
      else {
        let c = sg.cin;
        for (const l of sg.layers) {
          const o = this.lay.arch.synthesis[l].out;
          row += o + c;
          c = o;
        }
      }
    }
    let wgp = WG;
    while (wgp > 8 && wgp * row * 4 > 16384) wgp /= 2;
    if (wgp * row * 4 > 16384) throw new Error('workgroup memory over 16 KiB');
    return wgp;
  }

  /**
   * Partial sums of the parameter gradients of a group of segments over each workgroup of
   * `wgp` pixels: [workgroups, group params]. First every thread computes its pixel's dZ of
   * every layer (and, for 1x1 layers, the layer's input) into workgroup memory, then ONE
   * barrier, then each thread sums parameters (strided) over the workgroup's pixels.
   * Threads past the image compute at the last pixel and contribute zeros. Under
   * SwiftShader this program is most of a step's time: its cost grew with workgroup-memory
   * size × workgroup size (a trivial program with 12 workgroups of 32: 64 floats 59 ms,
   * 512 floats 271 ms, 3584 floats 2.4 s; the default arch's step 2.2 s with 32 pixels a
   * workgroup, 1.0 s with 8). 32 is kept: a full warp on a GPU.
   */
  private partialProgram(mode: Mode, grp: number[], k: number) {
    const g = new Code();
    const { width: W, height: H } = this.lay;
    const wgp = this.groupWgp(grp);
    const nWG = Math.ceil(this.HW / wgp);
    const [g0, g1] = this.groupRange(grp);
    const nP = g1 - g0;
    const stash: string[] = [];
    const sums: string[] = [];
    // sh[t * row + …]: pixel t's stash, a block per layer
    let row = 0;
    for (const s of grp) {
      const sg = this.segs[s];
      if (sg.kind === 'R') {
        const pre = `q${s}_`;
        const [code, gn] = this.gradAt(g, mode, s, `${pre}o`, 'valid');
        const writes: string[] = [];
        let c = sg.cin;
        sg.layers.forEach((l, j0) => {
          const j = j0 + 1;
          const o = this.lay.arch.synthesis[l].out;
          const at = row;
          const nW = o * c;
          // block: dZ (o), then the layer's input (c)
          writes.push(`for (var o = 0; o < ${o}; o++) { sh[l * ROW + ${at} + o] = ${pre}d${j}[o]; }
          for (var i = 0; i < ${c}; i++) { sh[l * ROW + ${at + o} + i] = ${pre}a${j - 1}[i]; }`);
          sums.push(`if (jj >= ${this.wOff(l) - g0} && jj < ${this.wOff(l) - g0 + nW}) {
              let o = (jj - ${this.wOff(l) - g0}) / ${c};
              let i = (jj - ${this.wOff(l) - g0}) % ${c};
              for (var t = 0; t < ${wgp}; t++) { acc = acc + sh[t * ROW + ${at} + o] * sh[t * ROW + ${at + o} + i]; }
            } else if (jj >= ${this.bOff(l) - g0} && jj < ${this.bOff(l) - g0 + o}) {
              for (var t = 0; t < ${wgp}; t++) { acc = acc + sh[t * ROW + ${at} + jj - ${this.bOff(l) - g0}]; }
            }`);
          row += o + c;
          c = o;
        });
        stash.push(`{
          ${this.rForward(g, s, 'p', pre, 'valid')}
          ${code}
          ${this.rBackward(g, s, gn, pre)}
          ${writes.join('\n          ')}
        }`);
      } else {
        const l = sg.layers[0];
        const o = sg.cout;
        const c = sg.cin;
        const nW = o * c * 9;
        const at = row;
        const IN = g.use(this.inBuf(s));
        stash.push(`for (var o = 0; o < ${o}; o++) { sh[l * ROW + ${at} + o] = select(0.0, ${this.dT(g, mode, s, 1, 'p', 'o')}, valid); }`);
        // dW[o][i][ky][kx] = Σ_t dZ_t[o] · in[t + (ky − 1, kx − 1)][i] (0 outside the image)
        sums.push(`if (jj >= ${this.wOff(l) - g0} && jj < ${this.wOff(l) - g0 + nW}) {
              let m = jj - ${this.wOff(l) - g0};
              let o = m / ${9 * c};
              let i = (m / 9) % ${c};
              let ky = (m / 3) % 3 - 1;
              let kx = m % 3 - 1;
              for (var t = 0; t < ${wgp}; t++) {
                let pt = wg * ${wgp} + t;
                let yy = pt / ${W} + ky;
                let xx = pt % ${W} + kx;
                if (pt < ${this.HW} && yy >= 0 && yy < ${H} && xx >= 0 && xx < ${W}) {
                  acc = acc + sh[t * ROW + ${at} + o] * ${IN}[(yy * ${W} + xx) * ${c} + i];
                }
              }
            } else if (jj >= ${this.bOff(l) - g0} && jj < ${this.bOff(l) - g0 + o}) {
              for (var t = 0; t < ${wgp}; t++) { acc = acc + sh[t * ROW + ${at} + jj - ${this.bOff(l) - g0}]; }
            }`);
        row += o;
      }
    }
    const names = this.inputs(g, this.allNames());
    const code = `${[...g.fns.values()].join('\n')}
      const ROW = ${row};
      var<workgroup> sh : array<f32, ${wgp * row}>;
      fn main(index : i32) {
        let wg = i32(workgroupId.x);
        let l = i32(localIndex);
        let valid = wg * ${wgp} + l < ${this.HW} && uniforms.size > 0;
        let p = min(wg * ${wgp} + l, ${this.HW - 1});
        let y = p / ${W};
        let x = p % ${W};
        ${stash.join('\n        ')}
        workgroupBarrier();
        for (var jj = l; jj < ${nP}; jj += ${wgp}) {
          var acc = 0.0;
          ${sums.join(' else ')}
          result[wg * ${nP} + jj] = acc;
        }
      }`;
    const prog = flatProgram(`nimg_synp_${mode}_${k}_${grp.join('.')}_${this.key}`, names, [nWG * nP], code);
    prog.dispatch = [nWG, 1, 1];
    prog.workgroupSize = [wgp, 1, 1];
    return { prog, names, nWG };
  }

  // ---- running ----

  private forward(F0: tf.Tensor, theta: tf.Tensor, mode: Mode): tf.Tensor[] {
    const Xs: tf.Tensor[] = [];
    const bufs = new Map<string, tf.Tensor>([['F', F0], ['TH', theta]]);
    if (mode === 'mse') bufs.set('TG', this.target!);
    this.segs.forEach((_, s) => {
      const ck = `${mode}${s}`;
      if (!this.fwdCache.has(ck)) this.fwdCache.set(ck, this.forwardProgram(s, mode));
      const { prog, names } = this.fwdCache.get(ck)!;
      // the target is the same image for every member
      const X = runMembers(prog, names.map((n) => bufs.get(n)!), this.members, ['TG']);
      bufs.set(`X${s}`, X);
      Xs.push(X);
    });
    return Xs;
  }

  /** Σ E² / (3·H·W): one workgroup, strided sums then a tree in workgroup memory */
  private mseOf(E: tf.Tensor): tf.Scalar {
    const n = 3 * this.HW;
    const code = `
      var<workgroup> red : array<f32, ${RED}>;
      fn main(index : i32) {
        let l = i32(localIndex);
        var s = 0.0;
        for (var r = l; r < ${n}; r += ${RED}) { let e = E[r]; s = s + e * e; }
        red[l] = s;
        workgroupBarrier();
        for (var h = ${RED / 2}; h > 0; h = h / 2) {
          if (l < h) { red[l] = red[l] + red[l + h]; }
          workgroupBarrier();
        }
        if (l == 0 && uniforms.size > 0) { result[0] = red[0] * ${f32(1 / n)}; }
      }`;
    const p = flatProgram(`nimg_syn_mse_${n}`, ['E'], [1], code);
    p.dispatch = [1, 1, 1];
    p.workgroupSize = [RED, 1, 1];
    const out = runMembers(p, [E], this.members);
    const r = tf.reshape(out, this.members === 1 ? [] : [this.members]) as tf.Scalar;
    if (r !== (out as tf.Tensor)) out.dispose();
    return r;
  }

  /** [dF_0, dTheta (full size)] */
  private backward(mode: Mode, dy: tf.Tensor, F0: tf.Tensor, theta: tf.Tensor, Xs: tf.Tensor[]): tf.Tensor[] {
    const bufs = new Map<string, tf.Tensor>([['F', F0], ['TH', theta]]);
    Xs.forEach((X, s) => bufs.set(`X${s}`, X));
    if (mode === 'mse') {
      bufs.set('E', Xs[Xs.length - 1]);
      bufs.set('DY', dy);
    } else bufs.set('DR', dy);
    if (!this.bwdCache.has(mode)) this.bwdCache.set(mode, this.backwardPrograms(mode));
    const { progs, groups, nWGs } = this.bwdCache.get(mode)!;
    const made: tf.Tensor[] = [];
    let dF: tf.Tensor | null = null;
    const partials: tf.Tensor[] = [];
    for (const { prog, names, out } of progs) {
      const t = runMembers(prog, names.map((n) => bufs.get(n)!), this.members);
      bufs.set(out, t);
      if (out === 'dF') dF = t;
      else if (out.startsWith('P')) partials.push(t);
      else made.push(t);
    }
    const dTheta = this.reduce(mode, groups, nWGs, partials);
    tf.dispose([...made, ...partials]);
    return [dF!, dTheta];
  }

  /**
   * [nTheta]: the synthesis parameters' sums over all workgroups' partials, zeros before the
   * synthesis part. A workgroup of RED threads takes RED_P consecutive parameters (so a
   * row of partials is read coalesced) × RED / RED_P lanes, each lane a strided sum over the
   * rows, then one thread per parameter adds the lanes. (One workgroup of 256 per parameter,
   * ~1000 workgroups with a barrier tree each, cost ~0.9 s of a 24x16 step under SwiftShader.)
   */
  private reduce(mode: Mode, groups: number[][], nWGs: number[], partials: tf.Tensor[]): tf.Tensor {
    const lanes = RED / RED_P;
    const names = partials.map((_, k) => `P${k}`);
    const branches = groups.map((grp, k) => {
      const [g0, g1] = this.groupRange(grp);
      return `if (q >= ${g0} && q < ${g1}) {
            for (var r = r0; r < ${nWGs[k]}; r += ${lanes}) { s = s + P${k}[r * ${g1 - g0} + q - ${g0}]; }
          }`;
    });
    const nW = Math.ceil(this.nSyn / RED_P);
    const code = `
      var<workgroup> red : array<f32, ${RED}>;
      fn main(index : i32) {
        let w = i32(workgroupId.x);
        let l = i32(localIndex);
        // the ARM and taps part of theta: 0
        for (var z = w * ${RED} + l; z < ${this.synStart}; z += ${nW * RED}) { result[z] = 0.0; }
        let pl = l % ${RED_P};
        let r0 = l / ${RED_P};
        let q = ${this.synStart} + w * ${RED_P} + pl;
        var s = 0.0;
        ${branches.join(' else ')}
        red[l] = s;
        workgroupBarrier();
        if (r0 == 0 && q < uniforms.size) {
          var t = red[pl];
          for (var k = 1; k < ${lanes}; k++) { t = t + red[k * ${RED_P} + pl]; }
          result[q] = t;
        }
      }`;
    const p = flatProgram(`nimg_synr_${mode}_${this.key}`, names, [this.lay.nTheta], code);
    p.dispatch = [nW, 1, 1];
    p.workgroupSize = [RED, 1, 1];
    return runMembers(p, partials, this.members);
  }
}
