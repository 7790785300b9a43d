/**
 * The 8 × 96 Laplace tables T[f][s] of the per-image profile (SPEC.md §1 "Tables"), built once
 * in binary64 and kept for the module's life (they join the model region of the arena at the
 * start of the first per-image call; resetModel() drops them and the next call rebuilds them).
 *
 * exp is our own (lapExp below: fdlibm's algorithm, only + − × ÷ and exact scalings), so that
 * the plain-TS reference (src/profiles/perimage/reference.ts) performs the very same binary64
 * operations and builds bit-identical tables; SPEC.md records their SHA-256.
 *
 * Scale index s = 0 … 95 means log2 b = −5 + s/8. Files without the FINE_SCALES flag use only
 * s = 16 … 95 (the base set, log2 b ≥ −3: the 8 × 80 tables of the first version of the
 * format, bit for bit); files with it use all 96 (lapSelect). Below log2 b = −5 nothing is left
 * to gain: a centred zero already costs the 16-bit floor (0.00015 bits), against 0.0266 at −3.
 * One array holds both, so a file of either kind is decoded by the same loop with a different
 * lower clamp.
 *
 * Table index t = f·96 + s in the meta array of buildTables (rans.ts).
 */
import { atCallStart, arenaGeneration, alloc, commitModel } from '../arena';
import { buildTables, getBuildStatus } from '../rans';
import { ST_OK, ST_OOM } from '../status';

export const NF: u32 = 8;
export const NS: u32 = 96;
export const NT: u32 = NF * NS;
/** s of the base set's narrowest table (log2 b = −3) */
export const S_BASE: u32 = 16;
const TOTAL: i32 = 65536;

const LN2: f64 = 0.6931471805599453;
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const INV_LN2: f64 = 1.44269504088896338700e0;
const P1: f64 = 1.66666666666666019037e-1;
const P2: f64 = -2.77777777770155933842e-3;
const P3: f64 = 6.61375632143793436117e-5;
const P4: f64 = -1.65339022054652515390e-6;
const P5: f64 = 4.13813679705723846039e-8;

/**
 * e^x for x in [−700, 700] (0 below −700): k = floor(x/ln2 + 0.5), r = x − k·ln2 (split
 * hi/lo), the rational approximation of fdlibm, times 2^k (exact: built from the bits).
 * Deterministic because it uses only IEEE binary64 + − × ÷ and floor.
 */
export function lapExp(x: f64): f64 {
  if (x < -700.0) return 0.0;
  const k = Math.floor(x * INV_LN2 + 0.5);
  const hi = x - k * LN2_HI;
  const lo = k * LN2_LO;
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  const y = 1.0 - (lo - (r * c) / (2.0 - c) - hi);
  return y * reinterpret<f64>(<u64>(<i64>k + 1023) << 52);
}

/** Laplace CDF with scale b: ½e^{x/b} (x < 0), 1 − ½e^{−x/b} */
function lapCdf(x: f64, b: f64): f64 {
  return x < 0 ? 0.5 * lapExp(x / b) : 1.0 - 0.5 * lapExp(-x / b);
}

let meta: usize = 0;
let gen: u32 = 0;
/** the lowest s the table choice of this call may pick: S_BASE, or 0 with FINE_SCALES */
let sMin: i32 = <i32>S_BASE;

/** Select the scale set of this call (lapInit resets it to the base set). */
export function lapSelect(fine: bool): void {
  sMin = fine ? 0 : <i32>S_BASE;
}

/** Table index f·NS + s of centre offset f and the ARM's log2 b output ls (Q8), SPEC §1. */
// @ts-ignore: decorator
@inline export function lapChoose(f: i32, ls: i32): u32 {
  let s = (ls + 1280 + 16) >> 5;
  s = s < sMin ? sMin : s > <i32>NS - 1 ? <i32>NS - 1 : s;
  return <u32>(f * <i32>NS + s);
}

/** b of scale index s: 2^(−5 + s/8) = e^((s/8 − 5)·ln2) */
export function lapScale(s: u32): f64 {
  return lapExp((<f64>s / 8.0 - 5.0) * LN2);
}

/** R of scale index s: min(ceil(8b) + 2, 254) */
export function lapRadius(s: u32): i32 {
  const r = <i32>Math.ceil(8.0 * lapScale(s)) + 2;
  return r < 254 ? r : 254;
}

/**
 * Fill table (f, s): freq → cdf (n + 1 i32), returns n.
 * REQUIRES: cdf has room for 2·254 + 3 i32; p (f64 scratch) for 2·254 + 2.
 */
function fillTable(f: u32, s: u32, cdf: usize, p: usize): i32 {
  const b = lapScale(s);
  const R = lapRadius(s);
  const n = 2 * R + 2;
  const delta = <f64>f / 8.0;
  let sum: f64 = 0;
  for (let v = -R; v <= R; v++) {
    const pv = lapCdf(<f64>v + 0.5 - delta, b) - lapCdf(<f64>v - 0.5 - delta, b);
    store<f64>(p + (<usize>(v + R) << 3), pv);
    sum += pv;
  }
  let esc = 1.0 - sum;
  // below b = 1/8 the mass inside [−R, R] can round to 1 or just above in binary64; the escape
  // keeps its frequency 1 (never negative in the base set: checked by the tests)
  if (esc < 0) esc = 0;
  store<f64>(p + (<usize>(n - 1) << 3), esc);
  const scale = <f64>(TOTAL - n);
  let total: i32 = 0;
  let best: i32 = 0;
  let bestF: i32 = -1;
  for (let i = 0; i < n; i++) {
    const fi = 1 + <i32>Math.floor(load<f64>(p + (<usize>i << 3)) * scale);
    store<i32>(cdf + (<usize>(i + 1) << 2), fi); // frequencies for now
    total += fi;
    if (fi > bestF) {
      bestF = fi;
      best = i;
    }
  }
  store<i32>(cdf + (<usize>(best + 1) << 2), bestF + (TOTAL - total));
  // frequencies → cumulative
  store<i32>(cdf, 0);
  let acc: i32 = 0;
  for (let i = 1; i <= n; i++) {
    acc += load<i32>(cdf + (<usize>i << 2));
    store<i32>(cdf + (<usize>i << 2), acc);
  }
  return n;
}

/**
 * Make sure the tables exist. Call first in a call (right after resetCall()), before any
 * allocation: they are then joined to the kept region.
 * ENSURES: ST_OK and lapMeta() valid, or ST_OOM / ST_BAD_MODEL (a table failed validation:
 *          a bug) / ST_BAD_INPUT (called after other allocations).
 */
export function lapInit(): i32 {
  sMin = <i32>S_BASE;
  if (meta != 0 && gen == arenaGeneration()) return ST_OK;
  meta = 0;
  if (!atCallStart()) return 1;
  // sizes first: every table has n + 1 cdf entries
  let total: u32 = 0;
  for (let s: u32 = 0; s < NS; s++) total += NF * (<u32>(2 * lapRadius(s) + 3));
  const cdf = alloc(<usize>total << 2);
  const ptr = alloc(<usize>(NT + 1) << 2);
  const off = alloc(<usize>NT << 2);
  const p = alloc(512 * 8);
  if (cdf == 0 || ptr == 0 || off == 0 || p == 0) return ST_OOM;
  let a: u32 = 0;
  for (let f: u32 = 0; f < NF; f++) {
    for (let s: u32 = 0; s < NS; s++) {
      const t = f * NS + s;
      store<i32>(ptr + (<usize>t << 2), <i32>a);
      store<i32>(off + (<usize>t << 2), -lapRadius(s));
      const n = fillTable(f, s, cdf + (<usize>a << 2), p);
      a += <u32>n + 1;
    }
  }
  store<i32>(ptr + (<usize>NT << 2), <i32>a);
  const m = buildTables(cdf, a, ptr, off, NT);
  if (m == 0) return getBuildStatus();
  commitModel();
  meta = m;
  gen = arenaGeneration();
  lapCdfPtr = cdf;
  lapPtrPtr = ptr;
  lapCdfLen = a;
  return ST_OK;
}

let lapCdfPtr: usize = 0;
let lapPtrPtr: usize = 0;
let lapCdfLen: u32 = 0;

/** the meta array (buildTables) of the 768 tables; valid after lapInit() returned ST_OK */
// @ts-ignore: decorator
@inline export function lapMeta(): usize {
  return meta;
}

/** for tests / hashing: the concatenated cdfs (i32), their ptr array (NT + 1 i32) and length */
export function lapCdfs(): usize {
  return lapCdfPtr;
}
export function lapPtrs(): usize {
  return lapPtrPtr;
}
export function lapCdfCount(): u32 {
  return lapCdfLen;
}
