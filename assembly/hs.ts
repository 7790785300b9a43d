/**
 * Integer hyper-synthesis h_s (weights/README.md), bit-exact:
 *   acc = b[o] + Σ w[o,i,ky,kx]·in[i, y+ky-r, x+kx-r]      (i32, zero padding)
 *   v   = floor((acc·m[o] + 2^(sh[o]-1)) / 2^sh[o])        (i64)
 *   hs.0/hs.1: clamp(v, 0, 255) then PixelShuffle(2) (conv channel c*4+dy*2+dx → c at
 *   (2y+dy, 2x+dx)); hs.2: channels < M → mu_q = clamp(v, ±32768), others → scale index
 *   clamp(v, 0, numScales-1). zhat is clamped to [-255, 255] on input.
 *
 * Implementation: im2col into i16 patches [P4][Kp] (Kp = K rounded up to 8, P4 = P rounded
 * up to 4, zero filled), weights converted at setModel to i16 [cout][Kp]; a 2-output ×
 * 4-pixel register-blocked GEMM with i32x4.dot_i16x8_s (standard SIMD: pmaddwd), then a
 * scalar i64 requant epilogue. Products |w·in| <= 128·255 fit the i16×i16→i32 dot; the
 * per-output bound 255·Σ|w| < 2^31 is checked at setModel, so the i32 accumulation of the
 * products is exact in any order; the bias is added in i64 in the epilogue (so even a bias
 * near ±2^31 is exact: |acc·m| < 2^48).
 */
import { alloc } from './arena';
import { ST_BAD_INPUT, ST_BAD_MODEL, ST_NO_MODEL, ST_OK, ST_OOM, setErrIndex } from './status';

// per-layer descriptor: cin, cout, k, Kp, w16 ptr, b ptr, m ptr, sh ptr (8 x u32)
let layers: usize = 0;
let numLayersSet: u32 = 0;
let hsM: u32 = 0;
let hsNumScales: i32 = 0;

export function hsReset(): void {
  layers = 0;
  numLayersSet = 0;
  hsM = 0;
  hsNumScales = 0;
}

/**
 * Install layer l (0..2). REQUIRES: w8Ptr: cout*cin*k*k i8; bPtr, mPtr, shPtr: cout i32 each,
 * in the model region (they are used in place). Checks: k ∈ {1,3}, 0 < m < 2^16,
 * 1 <= sh <= 40, 255·Σ|w| < 2^31 (so the i32 accumulation is exact) → else BAD_MODEL.
 */
export function hsSetLayer(l: u32, cin: u32, cout: u32, k: u32, w8Ptr: usize, bPtr: usize, mPtr: usize, shPtr: usize): i32 {
  if (l > 2 || cin == 0 || cout == 0 || cin > 65536 || cout > 65536 || !(k == 1 || k == 3)) return ST_BAD_MODEL;
  if (layers == 0) {
    layers = alloc(3 * 32);
    if (layers == 0) return ST_OOM;
  }
  const K = cin * k * k;
  const Kp = (K + 7) & ~7;
  const w16 = alloc(<usize>cout * <usize>Kp * 2);
  if (w16 == 0) return ST_OOM;
  for (let o: u32 = 0; o < cout; o++) {
    const m = load<i32>(mPtr + (<usize>o << 2));
    const sh = load<i32>(shPtr + (<usize>o << 2));
    if (m <= 0 || m >= 65536 || sh < 1 || sh > 40) {
      setErrIndex(o);
      return ST_BAD_MODEL;
    }
    let bound: i64 = 0;
    const src = w8Ptr + <usize>o * K;
    const dst = w16 + <usize>o * Kp * 2;
    for (let j: u32 = 0; j < K; j++) {
      const v = <i32>load<i8>(src + j);
      bound += <i64>(v < 0 ? -v : v) * 255;
      store<i16>(dst + (<usize>j << 1), <i16>v);
    }
    for (let j = K; j < Kp; j++) store<i16>(dst + (<usize>j << 1), 0);
    if (bound > 0x7FFF_FFFF) {
      setErrIndex(o);
      return ST_BAD_MODEL;
    }
  }
  const d = layers + <usize>l * 32;
  store<u32>(d, cin, 0);
  store<u32>(d, cout, 4);
  store<u32>(d, k, 8);
  store<u32>(d, Kp, 12);
  store<u32>(d, <u32>w16, 16);
  store<u32>(d, <u32>bPtr, 20);
  store<u32>(d, <u32>mPtr, 24);
  store<u32>(d, <u32>shPtr, 28);
  numLayersSet |= 1 << l;
  return ST_OK;
}

/** M and numScales; checks that the three layers chain (Nz → 4H0, H0 → 4H1, H1 → 2M). */
export function hsFinish(M: u32, numScales: i32): i32 {
  if (numLayersSet != 7 || layers == 0) return ST_BAD_MODEL;
  const c0 = load<u32>(layers + 4);
  const k0 = load<u32>(layers + 8);
  const i1 = load<u32>(layers + 32);
  const c1 = load<u32>(layers + 32 + 4);
  const k1 = load<u32>(layers + 32 + 8);
  const i2 = load<u32>(layers + 64);
  const c2 = load<u32>(layers + 64 + 4);
  const k2 = load<u32>(layers + 64 + 8);
  if (k0 != 3 || k1 != 3 || k2 != 1) return ST_BAD_MODEL;
  if ((c0 & 3) != 0 || (c1 & 3) != 0 || c0 / 4 != i1 || c1 / 4 != i2 || c2 != M * 2 || numScales < 1) return ST_BAD_MODEL;
  hsM = M;
  hsNumScales = numScales;
  return ST_OK;
}

/** i16 planar [cin][h][w] → patches i16 [P4][Kp] (zero padded), for kernel k (pad (k-1)/2) */
function im2col(src: usize, cin: u32, h: u32, w: u32, k: u32, Kp: u32, P4: u32): usize {
  const bytes = <usize>P4 * <usize>Kp * 2;
  const dst = alloc(bytes);
  if (dst == 0) return 0;
  memory.fill(dst, 0, bytes);
  const rowStride = <usize>Kp * 2;
  if (k == 1) {
    // transpose: patch[p][i] = src[i][p]
    const P = h * w;
    for (let i: u32 = 0; i < cin; i++) {
      const s = src + (<usize>i * P) * 2;
      const d = dst + (<usize>i << 1);
      for (let p: u32 = 0; p < P; p++) store<i16>(d + <usize>p * rowStride, load<i16>(s + (<usize>p << 1)));
    }
    return dst;
  }
  // k == 3
  for (let i: u32 = 0; i < cin; i++) {
    const plane = src + (<usize>i * h * w) * 2;
    for (let ky: u32 = 0; ky < 3; ky++) {
      for (let kx: u32 = 0; kx < 3; kx++) {
        const kidx = (i * 9 + ky * 3 + kx) << 1;
        for (let y: u32 = 0; y < h; y++) {
          const yy = <i32>y + <i32>ky - 1;
          if (yy < 0 || yy >= <i32>h) continue;
          const srow = plane + (<usize>yy * w) * 2;
          const drow = dst + <usize>(y * w) * rowStride + kidx;
          const x0: u32 = kx == 0 ? 1 : 0;
          const x1: u32 = kx == 2 ? w - 1 : w;
          for (let x = x0; x < x1; x++) {
            store<i16>(drow + <usize>x * rowStride, load<i16>(srow + (<usize>(x + kx - 1) << 1)));
          }
        }
      }
    }
  }
  return dst;
}

/** horizontal sums of four i32x4 accumulators → [Σa, Σb, Σc, Σd] */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 1, 4, 5), v128.shuffle<i32>(a, b, 2, 3, 6, 7));
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 1, 4, 5), v128.shuffle<i32>(c, d, 2, 3, 6, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 2, 4, 6), v128.shuffle<i32>(ab, cd, 1, 3, 5, 7));
}

/**
 * acc[o][p] = Σ_j W[o][j]·X[p][j] (without bias), o < cout (even), p < P4 (multiple of 4).
 * REQUIRES: W i16 [cout][Kp], X i16 [P4][Kp], Kp multiple of 8; acc i32 [cout][P4].
 */
function gemm(W: usize, X: usize, cout: u32, P4: u32, Kp: u32, acc: usize): void {
  const kb = <usize>Kp * 2;
  for (let p: u32 = 0; p < P4; p += 4) {
    const x0 = X + <usize>p * kb;
    const x1 = x0 + kb;
    const x2 = x1 + kb;
    const x3 = x2 + kb;
    for (let o: u32 = 0; o < cout; o += 2) {
      const w0 = W + <usize>o * kb;
      const w1 = w0 + kb;
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      let b0 = i32x4.splat(0), b1 = i32x4.splat(0), b2 = i32x4.splat(0), b3 = i32x4.splat(0);
      for (let j: usize = 0; j < kb; j += 16) {
        const u = v128.load(w0 + j);
        const v = v128.load(w1 + j);
        const q0 = v128.load(x0 + j);
        const q1 = v128.load(x1 + j);
        const q2 = v128.load(x2 + j);
        const q3 = v128.load(x3 + j);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(u, q0));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(u, q1));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(u, q2));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(u, q3));
        b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v, q0));
        b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v, q1));
        b2 = i32x4.add(b2, i32x4.dot_i16x8_s(v, q2));
        b3 = i32x4.add(b3, i32x4.dot_i16x8_s(v, q3));
      }
      v128.store(acc + ((<usize>o * P4 + p) << 2), hsum4(a0, a1, a2, a3));
      v128.store(acc + ((<usize>(o + 1) * P4 + p) << 2), hsum4(b0, b1, b2, b3));
    }
  }
}

// @ts-ignore: decorator
@inline function requant(acc: i32, b: i32, m: i32, sh: i32): i64 {
  return ((<i64>acc + <i64>b) * <i64>m + (<i64>1 << (sh - 1))) >> sh;
}

/** run conv layer l on i16 planar input [cin][h][w]; returns acc i32 [cout][P4] (bias not added) or 0 on OOM */
function convLayer(l: u32, src: usize, h: u32, w: u32): usize {
  const d = layers + <usize>l * 32;
  const cin = load<u32>(d, 0);
  const cout = load<u32>(d, 4);
  const k = load<u32>(d, 8);
  const Kp = load<u32>(d, 12);
  const W = <usize>load<u32>(d, 16);
  const P4 = (h * w + 3) & ~3;
  const X = im2col(src, cin, h, w, k, Kp, P4);
  if (X == 0) return 0;
  const acc = alloc(<usize>cout * <usize>P4 * 4);
  if (acc == 0) return 0;
  gemm(W, X, cout, P4, Kp, acc);
  return acc;
}

/** requant + clamp [0,255] + PixelShuffle(2) of layer l's acc [cout][P4] (h x w) → i16 planar [cout/4][2h][2w] */
function shuffleOut(l: u32, acc: usize, h: u32, w: u32): usize {
  const d = layers + <usize>l * 32;
  const cout = load<u32>(d, 4);
  const bP = <usize>load<u32>(d, 20);
  const mP = <usize>load<u32>(d, 24);
  const sP = <usize>load<u32>(d, 28);
  const P4 = (h * w + 3) & ~3;
  const W2: u32 = w * 2;
  const H2: u32 = h * 2;
  const dst = alloc(<usize>(cout / 4) * <usize>H2 * <usize>W2 * 2);
  if (dst == 0) return 0;
  for (let o: u32 = 0; o < cout; o++) {
    const b = load<i32>(bP + (<usize>o << 2));
    const m = load<i32>(mP + (<usize>o << 2));
    const sh = load<i32>(sP + (<usize>o << 2));
    const c = o >> 2;
    const dy = (o >> 1) & 1;
    const dx = o & 1;
    const a = acc + ((<usize>o * P4) << 2);
    for (let y: u32 = 0; y < h; y++) {
      const drow = dst + ((<usize>(c * H2 + y * 2 + dy) * W2 + dx) << 1);
      for (let x: u32 = 0; x < w; x++) {
        let v = requant(load<i32>(a + (<usize>(y * w + x) << 2)), b, m, sh);
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        store<i16>(drow + (<usize>x << 2), <i16>v);
      }
    }
  }
  return dst;
}

/**
 * zhat i32 [Nz][hz][wz] → muQ, idx i32 [M][4hz][4wz].
 * REQUIRES: model layers installed (hsFinish OK); zPtr: Nz*hz*wz i32; muPtr, idxPtr:
 *           M*16*hz*wz i32 each. Status: NO_MODEL, BAD_INPUT (empty), OOM.
 */
export function hyperSynthesis(zPtr: usize, hz: u32, wz: u32, muPtr: usize, idxPtr: usize): i32 {
  if (hsM == 0) return ST_NO_MODEL;
  if (hz == 0 || wz == 0 || hz > 65536 || wz > 65536 || <u64>hz * <u64>wz > (1 << 22)) return ST_BAD_INPUT;
  const Nz = load<u32>(layers, 0);
  const HW = hz * wz;
  // clamp zhat to [-255, 255] as i16
  const z16 = alloc(<usize>Nz * HW * 2);
  if (z16 == 0) return ST_OOM;
  const n = Nz * HW;
  for (let i: u32 = 0; i < n; i++) {
    let v = load<i32>(zPtr + (<usize>i << 2));
    v = v < -255 ? -255 : v > 255 ? 255 : v;
    store<i16>(z16 + (<usize>i << 1), <i16>v);
  }
  const acc0 = convLayer(0, z16, hz, wz);
  if (acc0 == 0) return ST_OOM;
  const act1 = shuffleOut(0, acc0, hz, wz);
  if (act1 == 0) return ST_OOM;
  const acc1 = convLayer(1, act1, hz * 2, wz * 2);
  if (acc1 == 0) return ST_OOM;
  const act2 = shuffleOut(1, acc1, hz * 2, wz * 2);
  if (act2 == 0) return ST_OOM;
  const h2: u32 = hz * 4;
  const w2: u32 = wz * 4;
  const acc2 = convLayer(2, act2, h2, w2);
  if (acc2 == 0) return ST_OOM;
  // epilogue: mu_q / scale index
  const d = layers + 64;
  const bP = <usize>load<u32>(d, 20);
  const mP = <usize>load<u32>(d, 24);
  const sP = <usize>load<u32>(d, 28);
  const P = h2 * w2;
  const P4 = (P + 3) & ~3;
  const M = hsM;
  const maxIdx: i64 = <i64>(hsNumScales - 1);
  for (let o: u32 = 0; o < M * 2; o++) {
    const b = load<i32>(bP + (<usize>o << 2));
    const m = load<i32>(mP + (<usize>o << 2));
    const sh = load<i32>(sP + (<usize>o << 2));
    const a = acc2 + ((<usize>o * P4) << 2);
    if (o < M) {
      const dst = muPtr + ((<usize>o * P) << 2);
      for (let p: u32 = 0; p < P; p++) {
        let v = requant(load<i32>(a + (<usize>p << 2)), b, m, sh);
        v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
        store<i32>(dst + (<usize>p << 2), <i32>v);
      }
    } else {
      const dst = idxPtr + ((<usize>(o - M) * P) << 2);
      for (let p: u32 = 0; p < P; p++) {
        let v = requant(load<i32>(a + (<usize>p << 2)), b, m, sh);
        v = v < 0 ? 0 : v > maxIdx ? maxIdx : v;
        store<i32>(dst + (<usize>p << 2), <i32>v);
      }
    }
  }
  return ST_OK;
}

/** Nz of the installed model (0 if none) */
export function hsNz(): u32 {
  return layers == 0 ? 0 : load<u32>(layers, 0);
}

/**
 * Split an h_s result computed elsewhere (the WebGPU h_s, src/model/gpu-hs.ts), packed as
 * u32 (mu_q & 0xffff) | idx << 16, into mu_q (sign-extended) and idx, i32 each.
 * REQUIRES: srcPtr, muPtr, idxPtr: n u32/i32 each.
 */
export function unpackHs(srcPtr: usize, muPtr: usize, idxPtr: usize, n: u32): void {
  const n4 = n & ~3;
  for (let i: u32 = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(srcPtr + o);
    v128.store(muPtr + o, i32x4.shr_s(i32x4.shl(v, 16), 16));
    v128.store(idxPtr + o, i32x4.shr_u(v, 16));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<u32>(srcPtr + o);
    store<i32>(muPtr + o, (<i32>(v << 16)) >> 16);
    store<i32>(idxPtr + o, <i32>(v >>> 16));
  }
}
