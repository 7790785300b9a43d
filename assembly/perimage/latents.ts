/**
 * The latent stream of the per-image profile (SPEC.md §1 "Context model", §3 "Latent
 * stream"): grids k = L−1 … 0, each in raster order, value v = q − c coded with the table
 * T[f][s] chosen by the ARM from the causal context; one rANS stream (rans.ts layout, A/B
 * interleaving counting across grids).
 *
 * Grids live in the arena as padded i16 planes (4 zero rows above, 4 zero columns on the left,
 * 4 on the right), so the context of any position is N loads at fixed offsets with no bounds
 * test: positions outside the grid read 0. Decoding writes each q into its plane as soon as it
 * is known, which is exactly the causal context the encoder saw.
 */
import { alloc } from '../arena';
import { decFinish, decNext, decStart, decValue, encodeSyms, getOutLen, getOutPtr } from '../rans';
import { ST_BAD_INPUT, ST_CORRUPT, ST_OK, ST_OOM, setErrIndex } from '../status';
import { armEval, armIn, armLs, armMu } from './arm';
import { aL, aN } from './params';
import { lapChoose, lapMeta, NT } from './tables';

const PAD_T: u32 = 4;
const PAD_L: u32 = 4;
const PAD_R: u32 = 4;

/** per grid k: plane ptr (first real element), w, h, stride (elements) */
export const gPlane: usize = memory.data(8 * 4);
export const gW: usize = memory.data(8 * 4);
export const gH: usize = memory.data(8 * 4);
export const gStride: usize = memory.data(8 * 4);

// context offsets (dy, dx) of SPEC §1, in order
const DY: usize = memory.data<i8>([0, -1, -1, -1, 0, -2, -1, -1, -2, -2, 0, -3, -2, -2, -1, -1, -3, -3, -2, -2, -3, -3, 0, -4]);
const DX: usize = memory.data<i8>([-1, 0, -1, 1, -2, 0, -2, 2, -1, 1, -3, 0, -2, 2, -3, 3, -1, 1, -3, 3, -2, 2, -4, 0]);
const ctxOff: usize = memory.data(24 * 4);

// @ts-ignore: decorator
@inline export function gridPlane(k: u32): usize {
  return <usize>load<u32>(gPlane + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline export function gridW(k: u32): u32 {
  return load<u32>(gW + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline export function gridH(k: u32): u32 {
  return load<u32>(gH + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline export function gridStride(k: u32): u32 {
  return load<u32>(gStride + (<usize>k << 2));
}

/**
 * Allocate the L zeroed padded planes for a width × height image (aL from the model).
 * ENSURES: ST_OK, ST_BAD_INPUT (empty or > 2^30 latents), ST_OOM.
 */
export function allocGrids(width: u32, height: u32): i32 {
  if (width == 0 || height == 0 || width > 0x10000000 || height > 0x10000000) return ST_BAD_INPUT;
  let total: u64 = 0;
  for (let k: u32 = 0; k < aL; k++) {
    const w = (<u64>width + (1 << k) - 1) >> k;
    const h = (<u64>height + (1 << k) - 1) >> k;
    total += (w + PAD_L + PAD_R) * (h + PAD_T);
  }
  if (total > (1 << 30)) return ST_BAD_INPUT;
  for (let k: u32 = 0; k < aL; k++) {
    const w = <u32>((<u64>width + (1 << k) - 1) >> k);
    const h = <u32>((<u64>height + (1 << k) - 1) >> k);
    const stride = w + PAD_L + PAD_R;
    const bytes = <usize>stride * (h + PAD_T) * 2;
    const p = alloc(bytes);
    if (p == 0) return ST_OOM;
    memory.fill(p, 0, bytes);
    store<u32>(gPlane + (<usize>k << 2), <u32>(p + ((<usize>PAD_T * stride + PAD_L) << 1)));
    store<u32>(gW + (<usize>k << 2), w);
    store<u32>(gH + (<usize>k << 2), h);
    store<u32>(gStride + (<usize>k << 2), stride);
  }
  return ST_OK;
}

/** Number of latents of all grids (valid after allocGrids). */
export function latentCount(): u32 {
  let n: u32 = 0;
  for (let k: u32 = 0; k < aL; k++) n += gridW(k) * gridH(k);
  return n;
}

/**
 * Copy unpadded grids (i16, finest first, concatenated) into the planes.
 * ENSURES: ST_OK or ST_BAD_INPUT (a value outside [−127, 127]; getErrIndex() = its index).
 */
export function loadGrids(src: usize): i32 {
  let i: u32 = 0;
  for (let k: u32 = 0; k < aL; k++) {
    const w = gridW(k);
    const h = gridH(k);
    const st = gridStride(k);
    const pl = gridPlane(k);
    for (let y: u32 = 0; y < h; y++) {
      for (let x: u32 = 0; x < w; x++) {
        const v = <i32>load<i16>(src + (<usize>i << 1));
        if (v < -127 || v > 127) {
          setErrIndex(<i32>i);
          return ST_BAD_INPUT;
        }
        store<i16>(pl + ((<usize>y * st + x) << 1), <i16>v);
        i++;
      }
    }
  }
  return ST_OK;
}

/** Copy the planes out, unpadded, finest first, into dst (latentCount() i16). */
export function storeGrids(dst: usize): void {
  let p = dst;
  for (let k: u32 = 0; k < aL; k++) {
    const w = gridW(k);
    const st = gridStride(k);
    const pl = gridPlane(k);
    for (let y: u32 = 0; y < gridH(k); y++) {
      memory.copy(p, pl + ((<usize>y * st) << 1), <usize>w << 1);
      p += <usize>w << 1;
    }
  }
}

/** byte offsets of the N context positions for a plane of this stride */
function setOffsets(stride: u32): void {
  for (let j: u32 = 0; j < aN; j++) {
    const off = <i32>load<i8>(DY + j) * <i32>stride + <i32>load<i8>(DX + j);
    store<i32>(ctxOff + (<usize>j << 2), off << 1);
  }
}

// table choice of the last armAt(): c (centre) and meta entry
let selC: i32 = 0;

/**
 * Context of position p (byte address in a plane), ARM, table choice.
 * Returns the meta entry of T[f][s]; the centre c is in selC.
 */
// @ts-ignore: decorator
@inline function choose(p: usize, N: u32, meta: usize): usize {
  // gather: N is 8, 16 or 24
  for (let j: u32 = 0; j < N; j += 8) {
    const o = ctxOff + (<usize>j << 2);
    const d = armIn + (<usize>j << 1);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o)));
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 4)), 2);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 8)), 4);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 12)), 6);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 16)), 8);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 20)), 10);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 24)), 12);
    store<i16>(d, load<i16>(p + <usize>load<i32>(o, 28)), 14);
  }
  armEval();
  const m = armMu + 16;
  selC = m >> 8;
  return meta + (<usize>lapChoose((m & 255) >> 5, armLs) << 4);
}

/**
 * Decode the latent stream [inPtr, inPtr + inLen) into the planes (allocGrids done, model
 * prepared, lapInit OK). REQUIRES: 2 readable slack bytes after the input.
 * ENSURES: ST_OK with every plane filled; ST_CORRUPT (q outside [−127, 127], bad escape, stream
 *          not ending exactly); ST_TRUNCATED (ran past the end; getErrIndex() = symbol index).
 *          Bounded time: one ARM and one rANS step per latent.
 */
export function decodeLatentStream(inPtr: usize, inLen: u32): i32 {
  let st = decStart(inPtr, inLen);
  if (st != ST_OK) return st;
  const meta = lapMeta();
  const N = aN;
  let i: i32 = 0;
  for (let k = <i32>aL - 1; k >= 0; k--) {
    const w = gridW(k);
    const h = gridH(k);
    const stride = gridStride(k);
    const pl = gridPlane(k);
    setOffsets(stride);
    for (let y: u32 = 0; y < h; y++) {
      let p = pl + ((<usize>y * stride) << 1);
      for (let x: u32 = 0; x < w; x++) {
        const m = choose(p, N, meta);
        st = decNext(m);
        if (st != ST_OK) {
          setErrIndex(i);
          return st;
        }
        const q = selC + decValue();
        if (q < -127 || q > 127) {
          setErrIndex(i);
          return ST_CORRUPT;
        }
        store<i16>(p, <i16>q);
        p += 2;
        i++;
      }
    }
  }
  return decFinish();
}

/**
 * Values v = q − c and table indices of every latent, in stream order (planes loaded).
 * REQUIRES: vals, idx: latentCount() i32 each.
 */
export function latentSymbols(vals: usize, idx: usize): void {
  const meta = lapMeta();
  const N = aN;
  let i: usize = 0;
  for (let k = <i32>aL - 1; k >= 0; k--) {
    const w = gridW(k);
    const h = gridH(k);
    const stride = gridStride(k);
    const pl = gridPlane(k);
    setOffsets(stride);
    for (let y: u32 = 0; y < h; y++) {
      let p = pl + ((<usize>y * stride) << 1);
      for (let x: u32 = 0; x < w; x++) {
        const m = choose(p, N, meta);
        store<i32>(vals + (i << 2), <i32>load<i16>(p) - selC);
        store<u32>(idx + (i << 2), <u32>((m - meta) >> 4));
        p += 2;
        i++;
      }
    }
  }
}

/**
 * Encode the loaded planes. With bitsPtr != 0, also the exact coded size in bits of each grid
 * (bitsPtr: L f64, grid k at k): size of the stream through grid k minus through grid k+1.
 * ENSURES: ST_OK, stream at getOutPtr() / getOutLen(); ST_OOM.
 */
export function encodeLatentStream(bitsPtr: usize): i32 {
  const n = latentCount();
  const vals = alloc(<usize>n << 2);
  const idx = alloc(<usize>n << 2);
  if (vals == 0 || idx == 0) return ST_OOM;
  latentSymbols(vals, idx);
  if (bitsPtr != 0) {
    let prefix: u32 = 0;
    let prev: u32 = 0; // the coarsest grid carries the 8 bytes of the two states
    for (let k = <i32>aL - 1; k >= 0; k--) {
      prefix += gridW(k) * gridH(k);
      const st = encodeSyms(lapMeta(), NT, vals, idx, 0, prefix);
      if (st != ST_OK) return st;
      const len = getOutLen();
      store<f64>(bitsPtr + (<usize>k << 3), <f64>(len - prev) * 8);
      prev = len;
    }
  }
  return encodeSyms(lapMeta(), NT, vals, idx, 0, n);
}

