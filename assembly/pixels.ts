/**
 * Pre/post-processing (SIMD). Deterministic float rules:
 * - bytes → float: f32(byte) / 255 (one IEEE binary32 division);
 * - float → byte: round_half_even(f32(clamp(v, 0, 1) * 255)), NaN → 0.
 */

/**
 * RGBA (ch = 4) or RGB (ch = 3) bytes [h][w][ch] → planar f32 [3][padH][padW] with edge
 * replication (columns >= w repeat column w-1, rows >= h repeat row h-1).
 * REQUIRES: 1 <= w <= padW, 1 <= h <= padH; inPtr: w*h*ch bytes (+16 slack: arena blocks
 *           have it); outPtr: 3*padW*padH f32.
 */
export function toPlanar(inPtr: usize, w: u32, h: u32, ch: u32, padW: u32, padH: u32, outPtr: usize): void {
  const plane: usize = <usize>padW * <usize>padH * 4;
  const d255 = f32x4.splat(255);
  const w4 = w & ~3;
  for (let y: u32 = 0; y < h; y++) {
    const row = inPtr + <usize>y * <usize>w * ch;
    const o0 = outPtr + <usize>y * <usize>padW * 4;
    let x: u32 = 0;
    if (ch == 4) {
      for (; x < w4; x += 4) {
        const v = v128.load(row + (<usize>x << 2));
        const r = i8x16.shuffle(v, i8x16.splat(0), 0, 16, 16, 16, 4, 16, 16, 16, 8, 16, 16, 16, 12, 16, 16, 16);
        const g = i8x16.shuffle(v, i8x16.splat(0), 1, 16, 16, 16, 5, 16, 16, 16, 9, 16, 16, 16, 13, 16, 16, 16);
        const b = i8x16.shuffle(v, i8x16.splat(0), 2, 16, 16, 16, 6, 16, 16, 16, 10, 16, 16, 16, 14, 16, 16, 16);
        const o = o0 + (<usize>x << 2);
        v128.store(o, f32x4.div(f32x4.convert_i32x4_s(r), d255));
        v128.store(o + plane, f32x4.div(f32x4.convert_i32x4_s(g), d255));
        v128.store(o + plane * 2, f32x4.div(f32x4.convert_i32x4_s(b), d255));
      }
    } else {
      for (; x < w4; x += 4) {
        const v = v128.load(row + <usize>x * 3); // 12 bytes used, 4 over-read (slack)
        const r = i8x16.shuffle(v, i8x16.splat(0), 0, 16, 16, 16, 3, 16, 16, 16, 6, 16, 16, 16, 9, 16, 16, 16);
        const g = i8x16.shuffle(v, i8x16.splat(0), 1, 16, 16, 16, 4, 16, 16, 16, 7, 16, 16, 16, 10, 16, 16, 16);
        const b = i8x16.shuffle(v, i8x16.splat(0), 2, 16, 16, 16, 5, 16, 16, 16, 8, 16, 16, 16, 11, 16, 16, 16);
        const o = o0 + (<usize>x << 2);
        v128.store(o, f32x4.div(f32x4.convert_i32x4_s(r), d255));
        v128.store(o + plane, f32x4.div(f32x4.convert_i32x4_s(g), d255));
        v128.store(o + plane * 2, f32x4.div(f32x4.convert_i32x4_s(b), d255));
      }
    }
    for (; x < w; x++) {
      const p = row + <usize>x * ch;
      const o = o0 + (<usize>x << 2);
      store<f32>(o, <f32>load<u8>(p) / 255);
      store<f32>(o + plane, <f32>load<u8>(p, 1) / 255);
      store<f32>(o + plane * 2, <f32>load<u8>(p, 2) / 255);
    }
    // right padding: repeat the last column
    if (padW > w) {
      for (let c: u32 = 0; c < 3; c++) {
        const r = o0 + <usize>c * plane;
        const lastv = load<f32>(r + (<usize>(w - 1) << 2));
        const sv = f32x4.splat(lastv);
        let xx = w;
        for (; xx + 4 <= padW; xx += 4) v128.store(r + (<usize>xx << 2), sv);
        for (; xx < padW; xx++) store<f32>(r + (<usize>xx << 2), lastv);
      }
    }
  }
  // bottom padding: repeat the last row
  const rowBytes: usize = <usize>padW << 2;
  for (let c: u32 = 0; c < 3; c++) {
    const base = outPtr + <usize>c * plane;
    const last = base + <usize>(h - 1) * rowBytes;
    for (let y = h; y < padH; y++) memory.copy(base + <usize>y * rowBytes, last, rowBytes);
  }
}

// @ts-ignore: decorator
@inline function toByteVec(v: v128): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  const s = f32x4.mul(f32x4.pmin(f32x4.pmax(v, zero), one), f32x4.splat(255));
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(s));
}

// @ts-ignore: decorator
@inline function toByte(v: f32): u32 {
  if (v != v) return 0;
  v = v < 0 ? 0 : v > 1 ? 1 : v;
  return <u32>nearest<f32>(v * 255);
}

/**
 * planar f32 [3][padH][padW] → RGBA bytes [h][w][4] (top-left crop), alpha 255.
 * REQUIRES: w <= padW, h <= padH; inPtr: 3*padW*padH f32; outPtr: w*h*4 bytes.
 */
export function toRgba(inPtr: usize, padW: u32, padH: u32, w: u32, h: u32, outPtr: usize): void {
  const plane: usize = <usize>padW * <usize>padH * 4;
  const alpha = i32x4.splat(0xFF000000);
  const w4 = w & ~3;
  for (let y: u32 = 0; y < h; y++) {
    const r0 = inPtr + <usize>y * <usize>padW * 4;
    const o0 = outPtr + <usize>y * <usize>w * 4;
    let x: u32 = 0;
    for (; x < w4; x += 4) {
      const o = <usize>x << 2;
      const r = toByteVec(v128.load(r0 + o));
      const g = toByteVec(v128.load(r0 + o + plane));
      const b = toByteVec(v128.load(r0 + o + plane * 2));
      const px = v128.or(v128.or(r, i32x4.shl(g, 8)), v128.or(i32x4.shl(b, 16), alpha));
      v128.store(o0 + o, px);
    }
    for (; x < w; x++) {
      const o = <usize>x << 2;
      const px = toByte(load<f32>(r0 + o)) | (toByte(load<f32>(r0 + o + plane)) << 8) | (toByte(load<f32>(r0 + o + plane * 2)) << 16) | 0xFF000000;
      store<u32>(o0 + o, px);
    }
  }
}
