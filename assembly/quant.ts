/**
 * (De)quantization, weights/README.md "Quantization and the latent". IEEE binary32 only,
 * no FMA (standard SIMD has none), round half to even (f32.nearest), NaN → 0 (trunc_sat),
 * clamps with pmin/pmax (which keep NaN, so trunc_sat turns it into 0).
 * Vector loops cover floor(n/4)*4 elements; a scalar tail does the rest with the same ops.
 */

// @ts-ignore: decorator
@inline function qScalar(v: f32, lo: f32, hi: f32): i32 {
  if (v != v) return 0;
  v = v < lo ? lo : v > hi ? hi : v;
  return <i32>nearest<f32>(v);
}

// @ts-ignore: decorator
@inline function qVec(v: v128, lo: v128, hi: v128): v128 {
  // pmax(a, b) = a < b ? b : a; pmin(a, b) = b < a ? b : a  (NaN stays NaN)
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.pmin(f32x4.pmax(v, lo), hi)));
}

/**
 * out[i] = clamp(round_half_even(z[i]), -255, 255), NaN → 0.
 * REQUIRES: zPtr: n f32; outPtr: n i32.
 */
export function quantizeZ(zPtr: usize, outPtr: usize, n: u32): void {
  const lo = f32x4.splat(-255);
  const hi = f32x4.splat(255);
  const n4 = n & ~3;
  for (let i: u32 = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    v128.store(outPtr + o, qVec(v128.load(zPtr + o), lo, hi));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    store<i32>(outPtr + o, qScalar(load<f32>(zPtr + o), -255, 255));
  }
}

/**
 * k[i] = clamp(round_half_even(f32(ys[i] - f32(muQ[i]) * 2^-fracBits)), ±2^24), NaN → 0.
 * REQUIRES: ysPtr: n f32; muPtr: n i32; outPtr: n i32; 0 <= fracBits <= 30.
 */
export function quantizeLatent(ysPtr: usize, muPtr: usize, outPtr: usize, n: u32, fracBits: i32): void {
  const sc: f32 = reinterpret<f32>((127 - fracBits) << 23); // exact 2^-fracBits
  const scv = f32x4.splat(sc);
  const lo = f32x4.splat(-16777216);
  const hi = f32x4.splat(16777216);
  const n4 = n & ~3;
  for (let i: u32 = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const mu = f32x4.mul(f32x4.convert_i32x4_s(v128.load(muPtr + o)), scv);
    v128.store(outPtr + o, qVec(f32x4.sub(v128.load(ysPtr + o), mu), lo, hi));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const mu: f32 = <f32>load<i32>(muPtr + o) * sc;
    store<i32>(outPtr + o, qScalar(load<f32>(ysPtr + o) - mu, -16777216, 16777216));
  }
}

/**
 * yhat[c*HW + p] = f32(f32(f32(k) + f32(muQ * 2^-fracBits)) * gain[c]).
 * REQUIRES: kPtr, muPtr: C*HW i32; gainPtr: C f32; outPtr: C*HW f32.
 */
export function dequantizeLatent(kPtr: usize, muPtr: usize, gainPtr: usize, outPtr: usize, C: u32, HW: u32, fracBits: i32): void {
  const sc: f32 = reinterpret<f32>((127 - fracBits) << 23);
  const scv = f32x4.splat(sc);
  const hw4 = HW & ~3;
  for (let c: u32 = 0; c < C; c++) {
    const g = load<f32>(gainPtr + (<usize>c << 2));
    const gv = f32x4.splat(g);
    const base = (<usize>c * <usize>HW) << 2;
    for (let p: u32 = 0; p < hw4; p += 4) {
      const o = base + (<usize>p << 2);
      const mu = f32x4.mul(f32x4.convert_i32x4_s(v128.load(muPtr + o)), scv);
      const k = f32x4.convert_i32x4_s(v128.load(kPtr + o));
      v128.store(outPtr + o, f32x4.mul(f32x4.add(k, mu), gv));
    }
    for (let p = hw4; p < HW; p++) {
      const o = base + (<usize>p << 2);
      const mu: f32 = <f32>load<i32>(muPtr + o) * sc;
      store<f32>(outPtr + o, (<f32>load<i32>(kPtr + o) + mu) * g);
    }
  }
}
