/**
 * The integer context model (ARM) of the per-image profile (SPEC.md §1), bit-exact:
 *   layer 1:  acc = Σ W·x + b                       (Q8)
 *   layer ≥2: acc = (Σ W·h + (b << 8) + 128) >> 8     (Q16 → Q8, arithmetic shift)
 *   hidden:   h = clamp(acc, 0, 32767); output: mu, ls = clamp(acc, ±32768 .. 32767).
 * Every operand fits i16 (|W| <= 1023, |x| <= 127, 0 <= h <= 32767) and every sum int32
 * (SPEC's bound), so i32x4.dot_i16x8_s with i32 accumulation is exact in any order.
 *
 * Layout (params.ts prepare()): weights as pairs [in/2][outP][2] i16, so one v128 holds
 * 4 outputs × 2 inputs; the input pair (x[2p], x[2p+1]) is one i32 broadcast with
 * v128.load32_splat, and dot_i16x8_s gives the 4 outputs' partial sums directly (no
 * horizontal reduction). Outputs of a layer are narrowed to i16 and stored for the next.
 */
import { aD, armLayers } from './params';

/** i16 scratch: the N context values (set by the caller), then two hidden buffers */
export const armIn: usize = memory.data(64, 16);
const hA: usize = memory.data(64, 16);
const hB: usize = memory.data(64, 16);

export let armMu: i32 = 0;
export let armLs: i32 = 0;

/** Σ over the P input pairs of W·in for outputs og·4 … og·4+3, plus the bias vector */
// @ts-ignore: decorator
@inline function dotLayer(W: usize, B: usize, inp: usize, P: u32, og: u32, outP: u32): v128 {
  let acc = v128.load(B + (<usize>og << 4));
  let w = W + (<usize>og << 4);
  const stride = <usize>outP << 2;
  // P is a multiple of 4 (in ∈ {8, 16, 24, 32}): unrolled by 4
  for (let p: u32 = 0; p < P; p += 4) {
    const q = inp + (<usize>p << 2);
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(w), v128.load32_splat(q)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(w + stride), v128.load32_splat(q + 4)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(w + 2 * stride), v128.load32_splat(q + 8)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(w + 3 * stride), v128.load32_splat(q + 12)));
    w += 4 * stride;
  }
  return acc;
}

/** Q16 → Q8 (layers ≥ 2, `shift`), then clamp to [0, 32767]: a hidden layer's activation */
// @ts-ignore: decorator
@inline function activate(a: v128, shift: bool): v128 {
  if (shift) a = i32x4.shr_s(i32x4.add(a, i32x4.splat(128)), 8);
  return i32x4.min_s(i32x4.max_s(a, i32x4.splat(0)), i32x4.splat(32767));
}

/**
 * Hidden layer with 16 outputs (the default Wh), specialised: the 4 output vectors stay in
 * locals and each input pair is broadcast once for all of them. shift: 0 (layer 1) or 8.
 */
// @ts-ignore: decorator
@inline function hidden16(W: usize, B: usize, inp: usize, P: u32, shift: bool, out: usize): void {
  let a0 = v128.load(B);
  let a1 = v128.load(B, 16);
  let a2 = v128.load(B, 32);
  let a3 = v128.load(B, 48);
  let w = W;
  for (let p: u32 = 0; p < P; p++) {
    const x = v128.load32_splat(inp + (<usize>p << 2));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(w), x));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(w, 16), x));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(w, 32), x));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(w, 48), x));
    w += 64;
  }
  // narrow_i32x4_s saturates to i16, exact here (values already in [0, 32767])
  v128.store(out, i16x8.narrow_i32x4_s(activate(a0, shift), activate(a1, shift)));
  v128.store(out, i16x8.narrow_i32x4_s(activate(a2, shift), activate(a3, shift)), 16);
}

/**
 * Hidden layer with 24 outputs (Cool-chic's context width, bench/perimage-arches.ts `wide`),
 * specialised as hidden16 with 6 output vectors: the generic path re-reads the inputs once per
 * group of 4 outputs, which made a 24-wide context model cost ~2.6x the default's time for
 * 2.2x its multiply-adds (bench/results/perimage-arch-decode.json). Written out rather than
 * shared with hidden16 through a kernel of 8 outputs run 2 or 3 times: that kernel (tried,
 * 2026-12-07) made the default's context model ~1.5x and the 24-wide one ~2x slower.
 */
// @ts-ignore: decorator
@inline function hidden24(W: usize, B: usize, inp: usize, P: u32, shift: bool, out: usize): void {
  let a0 = v128.load(B);
  let a1 = v128.load(B, 16);
  let a2 = v128.load(B, 32);
  let a3 = v128.load(B, 48);
  let a4 = v128.load(B, 64);
  let a5 = v128.load(B, 80);
  let w = W;
  for (let p: u32 = 0; p < P; p++) {
    const x = v128.load32_splat(inp + (<usize>p << 2));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(w), x));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(w, 16), x));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(w, 32), x));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(w, 48), x));
    a4 = i32x4.add(a4, i32x4.dot_i16x8_s(v128.load(w, 64), x));
    a5 = i32x4.add(a5, i32x4.dot_i16x8_s(v128.load(w, 80), x));
    w += 96;
  }
  v128.store(out, i16x8.narrow_i32x4_s(activate(a0, shift), activate(a1, shift)));
  v128.store(out, i16x8.narrow_i32x4_s(activate(a2, shift), activate(a3, shift)), 16);
  v128.store(out, i16x8.narrow_i32x4_s(activate(a4, shift), activate(a5, shift)), 32);
}

/**
 * Evaluate the ARM on the context at armIn (N i16); result in armMu, armLs.
 * REQUIRES: params.prepare() returned ST_OK in this call.
 */
export function armEval(): void {
  let inp = armIn;
  let outBuf = hA;
  const D = aD;
  for (let l: u32 = 0; l < D; l++) {
    const d = armLayers + <usize>l * 20;
    const P = load<u32>(d) >> 1;
    const outP = load<u32>(d, 8);
    const W = <usize>load<u32>(d, 12);
    const B = <usize>load<u32>(d, 16);
    if (outP == 16) hidden16(W, B, inp, P, l > 0, outBuf);
    else if (outP == 24) hidden24(W, B, inp, P, l > 0, outBuf);
    else {
      for (let og: u32 = 0; og < (outP >> 2); og++) {
        const h = i16x8.narrow_i32x4_s(activate(dotLayer(W, B, inp, P, og, outP), l > 0), i32x4.splat(0));
        store<i64>(outBuf + (<usize>og << 3), i64x2.extract_lane(h, 0));
      }
    }
    inp = outBuf;
    outBuf = outBuf == hA ? hB : hA;
  }
  const d = armLayers + <usize>D * 20;
  const P = load<u32>(d) >> 1;
  let acc = dotLayer(<usize>load<u32>(d, 12), <usize>load<u32>(d, 16), inp, P, 0, 4);
  if (D > 0) acc = i32x4.shr_s(i32x4.add(acc, i32x4.splat(128)), 8);
  acc = i32x4.min_s(i32x4.max_s(acc, i32x4.splat(-32768)), i32x4.splat(32767));
  armMu = i32x4.extract_lane(acc, 0);
  armLs = i32x4.extract_lane(acc, 1);
}

/** Test hook: ARM of the prepared model on N context values (i32 at ctx); returns mu, ls packed. */
export function piArmEval(ctx: usize, N: u32): i64 {
  for (let j: u32 = 0; j < N; j++) store<i16>(armIn + (<usize>j << 1), <i16>load<i32>(ctx + (<usize>j << 2)));
  armEval();
  return (<i64>armMu << 32) | <i64><u32>armLs;
}
