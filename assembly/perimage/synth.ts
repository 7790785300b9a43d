/**
 * Upsampling and synthesis of the per-image profile (SPEC.md §1), float32 with f32x4, in
 * horizontal bands: working memory grows with the band (rows × width × channels), not with
 * the image; the grids and the RGBA output are the only image-sized buffers.
 *
 * Arithmetic (what the reference, src/profiles/perimage/reference.ts, reproduces exactly):
 * every operation is one binary32 + or × (no FMA); up2 sums in the order of SPEC §1 (t0 term
 * first); a 1x1 output is ((b + w0·x0) + w1·x1) + …, a 3x3 output b + Σ over (i, ky, kx) in
 * that order, rows outside the image skipped and columns outside it read as 0; residual
 * x + act(·); pixel = clamp(floor(f32(f32(v·255) + 0.5)), 0, 255), NaN → 0.
 *
 * Bands: output rows [y0, y1) need F_0 on [y0 − n3, y1 + n3) (n3 = number of 3x3 layers, one
 * row of halo each), clipped to the image; each 3x3 layer shrinks the valid rows by one on the
 * sides that are not image edges. A channel of F_0 that derives from grid j is computed by
 * upRows(), recursively from the rows of level k + 1 it needs (a 2-row margin per level).
 */
import { alloc, arenaMark, arenaRelease } from '../arena';
import { ST_BAD_INPUT, ST_OK, ST_OOM } from '../status';
import { gridH, gridPlane, gridStride, gridW } from './latents';
import { aL, aS, syn, synB, synW, taps } from './params';

/** left margin (floats) of every row buffer: zeros for the 3x3 layers, edge copies for up2 */
const MG: u32 = 4;

/** row stride (floats) for width w: margin, w rounded to 4, room for vector overrun */
// @ts-ignore: decorator
@inline function rowStride(w: u32): u32 {
  return MG + ((w + 3) & ~3) + 12;
}

/**
 * Rows [a, b) of the channel that derives from grid j, at level k (width gridW(k)), into dst
 * (row r at dst + ((r − a)·ds + MG)·4).
 * REQUIRES: k <= j < aL; 0 <= a < b <= gridH(k); dst has (b − a)·ds floats, ds >= rowStride.
 * ENSURES: true, or false on OOM. Scratch is given back before returning.
 */
function upRows(j: u32, k: u32, a: u32, b: u32, dst: usize, ds: u32): bool {
  if (k == j) {
    const pl = gridPlane(j);
    const st = gridStride(j);
    const w = gridW(j);
    for (let r = a; r < b; r++) {
      const s = pl + ((<usize>r * st) << 1);
      const d = dst + ((<usize>(r - a) * ds + MG) << 2);
      for (let x: u32 = 0; x < w; x++) store<f32>(d + (<usize>x << 2), <f32>load<i16>(s + (<usize>x << 1)));
    }
    return true;
  }
  const hn = gridH(k + 1);
  const wn = gridW(k + 1);
  const lo: u32 = (a >> 1) >= 2 ? (a >> 1) - 2 : 0;
  const hiW = ((b - 1) >> 1) + 3;
  const hi: u32 = hiW < hn ? hiW : hn;
  const sn = rowStride(wn);
  const mark = arenaMark();
  const src = alloc(<usize>(hi - lo) * sn << 2);
  const tmp = alloc(<usize>sn << 2);
  if (src == 0 || tmp == 0) return false;
  if (!upRows(j, k + 1, lo, hi, src, sn)) return false;
  const t0 = load<f32>(taps);
  const t1 = load<f32>(taps, 4);
  const t2 = load<f32>(taps, 8);
  const t3 = load<f32>(taps, 12);
  const v0 = f32x4.splat(t0);
  const v1 = f32x4.splat(t1);
  const v2 = f32x4.splat(t2);
  const v3 = f32x4.splat(t3);
  const last = <i32>hn - 1;
  const tv = tmp + (<usize>MG << 2);
  for (let r = a; r < b; r++) {
    const i = <i32>(r >> 1);
    // the 4 input rows in the order of their terms, and their taps
    const base: i32 = (r & 1) == 0 ? i - 2 : i - 1;
    let q0 = base, q1 = base + 1, q2 = base + 2, q3 = base + 3;
    q0 = q0 < 0 ? 0 : q0 > last ? last : q0;
    q1 = q1 < 0 ? 0 : q1 > last ? last : q1;
    q2 = q2 < 0 ? 0 : q2 > last ? last : q2;
    q3 = q3 < 0 ? 0 : q3 > last ? last : q3;
    const p0 = src + ((<usize>(q0 - <i32>lo) * sn + MG) << 2);
    const p1 = src + ((<usize>(q1 - <i32>lo) * sn + MG) << 2);
    const p2 = src + ((<usize>(q2 - <i32>lo) * sn + MG) << 2);
    const p3 = src + ((<usize>(q3 - <i32>lo) * sn + MG) << 2);
    const even = (r & 1) == 0;
    const c0 = even ? v0 : v3;
    const c1 = even ? v1 : v2;
    const c2 = even ? v2 : v1;
    const c3 = even ? v3 : v0;
    for (let x: u32 = 0; x < wn; x += 4) {
      const o = <usize>x << 2;
      let acc = f32x4.mul(c0, v128.load(p0 + o));
      acc = f32x4.add(acc, f32x4.mul(c1, v128.load(p1 + o)));
      acc = f32x4.add(acc, f32x4.mul(c2, v128.load(p2 + o)));
      acc = f32x4.add(acc, f32x4.mul(c3, v128.load(p3 + o)));
      v128.store(tv + o, acc);
    }
    // edge replication for the horizontal pass
    const e0 = load<f32>(tv);
    const e1 = load<f32>(tv + (<usize>(wn - 1) << 2));
    store<f32>(tv - 8, e0);
    store<f32>(tv - 4, e0);
    store<f32>(tv + (<usize>wn << 2), e1);
    store<f32>(tv + (<usize>(wn + 1) << 2), e1);
    const d = dst + ((<usize>(r - a) * ds + MG) << 2);
    for (let x: u32 = 0; x < wn; x += 4) {
      const o = tv + (<usize>x << 2);
      const xm2 = v128.load(o - 8);
      const xm1 = v128.load(o - 4);
      const x0 = v128.load(o);
      const x1 = v128.load(o + 4);
      const x2 = v128.load(o + 8);
      let ev = f32x4.mul(v0, xm2);
      ev = f32x4.add(ev, f32x4.mul(v1, xm1));
      ev = f32x4.add(ev, f32x4.mul(v2, x0));
      ev = f32x4.add(ev, f32x4.mul(v3, x1));
      let od = f32x4.mul(v3, xm1);
      od = f32x4.add(od, f32x4.mul(v2, x0));
      od = f32x4.add(od, f32x4.mul(v1, x1));
      od = f32x4.add(od, f32x4.mul(v0, x2));
      const dd = d + (<usize>x << 3);
      v128.store(dd, v128.shuffle<f32>(ev, od, 0, 4, 1, 5));
      v128.store(dd + 16, v128.shuffle<f32>(ev, od, 2, 6, 3, 7));
    }
  }
  arenaRelease(mark);
  return true;
}

/** out row of channel c, row r of a band buffer (channel planes of nr rows, stride S) */
// @ts-ignore: decorator
@inline function rowAt(buf: usize, c: u32, r: u32, nr: u32, S: u32): usize {
  return buf + ((<usize>(c * nr + r) * S + MG) << 2);
}

/** act + residual + store of one 8-pixel accumulator pair of output o */
// @ts-ignore: decorator
@inline function finish1(a0: v128, a1: v128, relu: bool, res: bool, s0: usize, d0: usize, o: u32, cs: usize, xo: usize): void {
  const zero = f32x4.splat(0);
  if (relu) {
    a0 = f32x4.pmax(a0, zero);
    a1 = f32x4.pmax(a1, zero);
  }
  if (res) {
    const sp = s0 + <usize>o * cs + xo;
    a0 = f32x4.add(v128.load(sp), a0);
    a1 = f32x4.add(v128.load(sp + 16), a1);
  }
  const dp = d0 + <usize>o * cs + xo;
  v128.store(dp, a0);
  v128.store(dp + 16, a1);
}

/**
 * 1x1 layer on band rows [v0, v1) (relative), all columns (rounded up to 8). Register
 * blocking: 4 outputs × 8 pixels per pass over the inputs (each input vector loaded once for
 * 4 outputs); per output the sum is still b + w_0·x_0 + w_1·x_1 + … in input order.
 */
function conv1x1(l: u32, src: usize, dst: usize, nr: u32, S: u32, v0: u32, v1: u32, W8: u32): void {
  const cin = syn(l, 1);
  const cout = syn(l, 2);
  const relu = syn(l, 3) == 1;
  const res = syn(l, 4) == 1;
  const Wt = <usize>load<u32>(synW + (<usize>l << 2));
  const Bt = <usize>load<u32>(synB + (<usize>l << 2));
  const cs = <usize>nr * S << 2; // channel plane stride in bytes
  const cout4 = cout & ~3;
  for (let r = v0; r < v1; r++) {
    const s0 = rowAt(src, 0, r, nr, S);
    const d0 = rowAt(dst, 0, r, nr, S);
    for (let x: u32 = 0; x < W8; x += 8) {
      const xo = <usize>x << 2;
      let o: u32 = 0;
      for (; o < cout4; o += 4) {
        let a0 = v128.load32_splat(Bt + (<usize>o << 2));
        let b0 = v128.load32_splat(Bt + (<usize>(o + 1) << 2));
        let c0 = v128.load32_splat(Bt + (<usize>(o + 2) << 2));
        let e0 = v128.load32_splat(Bt + (<usize>(o + 3) << 2));
        let a1 = a0, b1 = b0, c1 = c0, e1 = e0;
        const wa = Wt + (<usize>(o * cin) << 2);
        const wb = wa + (<usize>cin << 2);
        const wc = wb + (<usize>cin << 2);
        const we = wc + (<usize>cin << 2);
        let sp = s0 + xo;
        for (let i: u32 = 0; i < cin; i++) {
          const x0 = v128.load(sp);
          const x1 = v128.load(sp + 16);
          const io = <usize>i << 2;
          let w = v128.load32_splat(wa + io);
          a0 = f32x4.add(a0, f32x4.mul(w, x0));
          a1 = f32x4.add(a1, f32x4.mul(w, x1));
          w = v128.load32_splat(wb + io);
          b0 = f32x4.add(b0, f32x4.mul(w, x0));
          b1 = f32x4.add(b1, f32x4.mul(w, x1));
          w = v128.load32_splat(wc + io);
          c0 = f32x4.add(c0, f32x4.mul(w, x0));
          c1 = f32x4.add(c1, f32x4.mul(w, x1));
          w = v128.load32_splat(we + io);
          e0 = f32x4.add(e0, f32x4.mul(w, x0));
          e1 = f32x4.add(e1, f32x4.mul(w, x1));
          sp += cs;
        }
        // outputs are stored only after all 4 are computed: with residual, dst != src anyway
        finish1(a0, a1, relu, res, s0, d0, o, cs, xo);
        finish1(b0, b1, relu, res, s0, d0, o + 1, cs, xo);
        finish1(c0, c1, relu, res, s0, d0, o + 2, cs, xo);
        finish1(e0, e1, relu, res, s0, d0, o + 3, cs, xo);
      }
      for (; o < cout; o++) {
        let a0 = v128.load32_splat(Bt + (<usize>o << 2));
        let a1 = a0;
        const wr = Wt + (<usize>(o * cin) << 2);
        let sp = s0 + xo;
        for (let i: u32 = 0; i < cin; i++) {
          const w = v128.load32_splat(wr + (<usize>i << 2));
          a0 = f32x4.add(a0, f32x4.mul(w, v128.load(sp)));
          a1 = f32x4.add(a1, f32x4.mul(w, v128.load(sp + 16)));
          sp += cs;
        }
        finish1(a0, a1, relu, res, s0, d0, o, cs, xo);
      }
    }
  }
}

/**
 * 3x3 layer: output rows [n0, n1) (relative to the band start r0), input rows outside
 * [0, H) skipped; columns −1 and W … W8 + 4 read zeros (margins zeroed by the caller).
 */
function conv3x3(l: u32, src: usize, dst: usize, nr: u32, S: u32, n0: u32, n1: u32, r0: u32, H: u32, W8: u32): void {
  const cin = syn(l, 1);
  const cout = syn(l, 2);
  const relu = syn(l, 3) == 1;
  const res = syn(l, 4) == 1;
  const Wt = <usize>load<u32>(synW + (<usize>l << 2));
  const Bt = <usize>load<u32>(synB + (<usize>l << 2));
  const zero = f32x4.splat(0);
  const cs = <usize>nr * S << 2;
  for (let r = n0; r < n1; r++) {
    const ya = r0 + r; // absolute row
    const kyLo: u32 = ya == 0 ? 1 : 0;
    const kyHi: u32 = ya + 1 >= H ? 2 : 3;
    for (let o: u32 = 0; o < cout; o++) {
      const bias = v128.load32_splat(Bt + (<usize>o << 2));
      const dp = rowAt(dst, o, r, nr, S);
      // 8 pixels per pass (each weight broadcast once for two vectors), W rounded up to 8:
      // the extra lanes read the zeroed margin / stride slack and are never used
      for (let x: u32 = 0; x < W8; x += 8) {
        const xo = <usize>x << 2;
        let acc = bias;
        let acc2 = bias;
        for (let i: u32 = 0; i < cin; i++) {
          const wi = Wt + (<usize>((o * cin + i) * 9) << 2);
          for (let ky = kyLo; ky < kyHi; ky++) {
            const sp = rowAt(src, i, r + ky - 1, nr, S) + xo;
            const wk = wi + (<usize>(ky * 3) << 2);
            const w0 = v128.load32_splat(wk);
            const w1 = v128.load32_splat(wk + 4);
            const w2 = v128.load32_splat(wk + 8);
            acc = f32x4.add(acc, f32x4.mul(w0, v128.load(sp - 4)));
            acc2 = f32x4.add(acc2, f32x4.mul(w0, v128.load(sp + 12)));
            acc = f32x4.add(acc, f32x4.mul(w1, v128.load(sp)));
            acc2 = f32x4.add(acc2, f32x4.mul(w1, v128.load(sp + 16)));
            acc = f32x4.add(acc, f32x4.mul(w2, v128.load(sp + 4)));
            acc2 = f32x4.add(acc2, f32x4.mul(w2, v128.load(sp + 20)));
          }
        }
        if (relu) {
          acc = f32x4.pmax(acc, zero);
          acc2 = f32x4.pmax(acc2, zero);
        }
        if (res) {
          const rp = rowAt(src, o, r, nr, S) + xo;
          acc = f32x4.add(v128.load(rp), acc);
          acc2 = f32x4.add(v128.load(rp + 16), acc2);
        }
        v128.store(dp + xo, acc);
        v128.store(dp + xo + 16, acc2);
      }
    }
  }
}

let bandOverride: u32 = 0;
let upsampleOnly: bool = false;
/** Bench hook: stop after the upsampling (the output is left untouched). */
export function setUpsampleOnly(on: bool): void {
  upsampleOnly = on;
}
/** Test hook: rows per band (0: automatic). */
export function setBandRows(n: u32): void {
  bandOverride = n;
}

/**
 * F_0 → RGBA8 for the image (model prepared, planes filled), into out (W·H·4 bytes + slack).
 * ENSURES: ST_OK, ST_OOM, ST_BAD_INPUT (no grids).
 */
export function synthesize(out: usize): i32 {
  if (aL == 0) return ST_BAD_INPUT;
  const W = gridW(0);
  const H = gridH(0);
  const W8 = (W + 7) & ~7;
  const S = rowStride(W8);
  let maxC = aL;
  let n3: u32 = 0;
  for (let l: u32 = 0; l < aS; l++) {
    if (syn(l, 2) > maxC) maxC = syn(l, 2);
    if (syn(l, 0) == 1) n3++;
  }
  // rows per band: about 2^21 floats (8 MiB) per buffer, at least 32 rows (each band
  // recomputes a few rows of every coarser level: short bands cost upsampling time)
  let B: u32 = <u32>((<u64>1 << 21) / (<u64>maxC * S));
  B = B < 32 ? 32 : B > 256 ? 256 : B;
  if (bandOverride > 0) B = bandOverride;
  const zero = f32x4.splat(0);
  const k255 = f32x4.splat(255);
  const half = f32x4.splat(0.5);
  for (let y0: u32 = 0; y0 < H; y0 += B) {
    const y1 = y0 + B < H ? y0 + B : H;
    const r0 = y0 >= n3 ? y0 - n3 : 0;
    const r1 = y1 + n3 < H ? y1 + n3 : H;
    const nr = r1 - r0;
    const mark = arenaMark();
    const bytes = <usize>maxC * nr * S << 2;
    let cur = alloc(bytes);
    let nxt = alloc(bytes);
    if (cur == 0 || nxt == 0) return ST_OOM;
    memory.fill(cur, 0, bytes);
    memory.fill(nxt, 0, bytes);
    for (let c: u32 = 0; c < aL; c++) {
      if (!upRows(aL - 1 - c, 0, r0, r1, cur + ((<usize>c * nr * S) << 2), S)) return ST_OOM;
    }
    if (upsampleOnly) {
      arenaRelease(mark);
      continue;
    }
    let v0: u32 = 0;
    let v1: u32 = nr;
    for (let l: u32 = 0; l < aS; l++) {
      if (syn(l, 0) == 0) {
        conv1x1(l, cur, nxt, nr, S, v0, v1, W8);
      } else {
        // zero pad on the right: columns W … W8 + 4 of every input row
        const cin = syn(l, 1);
        for (let i: u32 = 0; i < cin; i++) {
          for (let r = v0; r < v1; r++) {
            const p = rowAt(cur, i, r, nr, S) + (<usize>W << 2);
            for (let x = W; x < W8 + 4; x++) store<f32>(p + (<usize>(x - W) << 2), 0);
          }
        }
        const n0 = r0 + v0 > 0 ? v0 + 1 : v0;
        const n1 = r0 + v1 < H ? v1 - 1 : v1;
        conv3x3(l, cur, nxt, nr, S, n0, n1, r0, H, W8);
        v0 = n0;
        v1 = n1;
      }
      const t = cur;
      cur = nxt;
      nxt = t;
    }
    // RGBA8, rows [y0, y1)
    for (let y = y0; y < y1; y++) {
      const rr = y - r0;
      const pr = rowAt(cur, 0, rr, nr, S);
      const pg = rowAt(cur, 1, rr, nr, S);
      const pb = rowAt(cur, 2, rr, nr, S);
      const d = out + ((<usize>y * W) << 2);
      for (let x: u32 = 0; x < W; x += 4) {
        const o = <usize>x << 2;
        const r = px8(v128.load(pr + o), k255, half);
        const g = px8(v128.load(pg + o), k255, half);
        const b = px8(v128.load(pb + o), k255, half);
        const v = v128.or(v128.or(r, i32x4.shl(g, 8)), v128.or(i32x4.shl(b, 16), i32x4.splat(0xFF000000)));
        v128.store(d + o, v);
      }
    }
    arenaRelease(mark);
  }
  return ST_OK;
}

/** clamp(floor(f32(f32(v·255) + 0.5)), 0, 255) per lane, NaN → 0 (trunc_sat) */
// @ts-ignore: decorator
@inline function px8(v: v128, k255: v128, half: v128): v128 {
  const f = f32x4.floor(f32x4.add(f32x4.mul(v, k255), half));
  const i = i32x4.trunc_sat_f32x4_s(f);
  return i32x4.min_s(i32x4.max_s(i, i32x4.splat(0)), i32x4.splat(255));
}

