/**
 * Entropy coder: rANS (range variant of asymmetric numeral systems), 32-bit state,
 * 16-bit renormalisation, 16-bit CDF precision (weights/README.md "Entropy tables").
 *
 * Why rANS and not a (TFC-style) range coder: the decoder needs no division at all
 * (slot = x & 0xFFFF, symbol from a per-table bucket LUT, x = freq*(x>>16) + slot - start,
 * at most one 16-bit read), so decoding is a short dependency chain; the encoder's one u32
 * division per symbol is cheap, and since every call codes a whole array at once, rANS's
 * reverse-order encoding costs nothing (we encode from the last symbol to the first,
 * writing 16-bit words backwards, and the decoder reads forwards).
 *
 * Two interleaved states (symbols with even index use state A, odd ones state B; an
 * escape's bypass bits use the state of their symbol) so that the decoder's two dependency
 * chains overlap; both share one word stream (ryg_rans-style interleaving).
 *
 * Stream layout (produced by encodeSyms, consumed by decodeSyms):
 *   bytes 0..3  final encoder state A (u32 LE, 2^16 <= A < 2^32)
 *   bytes 4..7  final encoder state B (u32 LE)
 *   then        16-bit LE words, in the order the decoder consumes them.
 * The encoder starts from A = B = 2^16, so a correct decode ends with A == B == 2^16 and
 * every byte consumed: anything else is CORRUPT (a cheap integrity check on top of the
 * container CRC).
 *
 * Symbols: table t has n = len-1 symbols; s < n-1 codes value offset[t] + s, s = n-1 is the
 * escape, followed by e (order-0 Exp-Golomb) as equiprobable bypass bits, where
 * e = 2*(lo-1-v) for v < lo and e = 2*(v-hi-1)+1 for v > hi. A bypass chunk of c bits (1..16)
 * is an rANS symbol with freq 2^(16-c), start value << (16-c). Forward order of an escape:
 * escape symbol, z zero bits (one bit per step), a one bit, then the z low bits of e+1 as a
 * chunk of min(z,16) bits followed by a chunk of z-min(z,16) bits (most significant first).
 * e+1 must fit 32 bits (z <= 31); the encoder rejects values that would need more
 * (BAD_INPUT; never happens for |v| <= 2^30 - 2^16 with valid tables), the decoder treats
 * z > 31 as CORRUPT.
 *
 * Decoder safety: it never uses a byte past inPtr+inLen. A valid stream never needs a word past
 * its end, so the first such need stops the decoder with TRUNCATED (inside an escape, the bypass
 * reader shifts in zeros and flags the overrun, and the decoder stops after that escape);
 * every step is O(1) except the bucket walk (bounded by the table length) and the escape
 * prefix (bounded by 32), so garbage decodes in bounded time.
 *
 * Symbol search: per table a LUT of 2^LUT_BITS buckets gives the symbol that contains the
 * first slot of the bucket; a short linear walk (usually 0-1 steps) finishes the search.
 */
import { alloc } from './arena';
import { ST_BAD_INPUT, ST_BAD_MODEL, ST_CORRUPT, ST_OK, ST_OOM, ST_TRUNCATED, setErrIndex } from './status';

const PREC: u32 = 16;
const L: u32 = 1 << 16; // lower bound of the state
const TOP: u32 = 1 << PREC; // cdf[n]
const LUT_BITS: u32 = 10;
const LUT_SIZE: u32 = 1 << LUT_BITS;
const LUT_SHIFT: u32 = PREC - LUT_BITS;

// Table meta: 16 bytes per table: cdf ptr (u32 values, n+1 of them), lut ptr (u16 [LUT_SIZE]),
// lo = offset (i32), n = number of symbols incl. escape (u32).
// @ts-ignore: decorator
@inline export const META_CDF: usize = 0;
// @ts-ignore: decorator
@inline export const META_LUT: usize = 4;
// @ts-ignore: decorator
@inline export const META_LO: usize = 8;
// @ts-ignore: decorator
@inline export const META_N: usize = 12;

let buildStatus: i32 = ST_OK;
export function getBuildStatus(): i32 {
  return buildStatus;
}
/**
 * Build the decoder/encoder metadata of T tables.
 * REQUIRES: cdfPtr points to cdfLen i32 values, ptrPtr to T+1 i32, offPtr to T i32, all in
 *           memory that stays alive as long as the tables are used (the model region).
 * Validates: ptr[0] = 0, ptr[T] <= cdfLen, every table has len >= 2, cdf[0] = 0,
 *           strictly increasing, cdf[n] = 2^16, |offset| <= 2^30.
 * ENSURES: returns the meta pointer (> 0), or 0 with the reason in getBuildStatus()
 *          (ST_BAD_MODEL, getErrIndex() = table; ST_OOM).
 */
export function buildTables(cdfPtr: usize, cdfLen: u32, ptrPtr: usize, offPtr: usize, T: u32): usize {
  buildStatus = ST_BAD_MODEL;
  if (T == 0 || T > 0x100000) return 0;
  if (load<i32>(ptrPtr) != 0) return 0;
  const meta = alloc(<usize>T << 4);
  if (meta == 0) {
    buildStatus = ST_OOM;
    return 0;
  }
  for (let t: u32 = 0; t < T; t++) {
    const a = load<i32>(ptrPtr + (<usize>t << 2));
    const b = load<i32>(ptrPtr + (<usize>(t + 1) << 2));
    if (a < 0 || b > <i32>cdfLen || b - a < 2 || b - a - 1 > <i32>TOP) {
      setErrIndex(t);
      return 0;
    }
    const n = <u32>(b - a - 1);
    const cdf = cdfPtr + (<usize>a << 2);
    if (load<i32>(cdf) != 0 || load<i32>(cdf + (<usize>n << 2)) != <i32>TOP) {
      setErrIndex(t);
      return 0;
    }
    for (let s: u32 = 1; s <= n; s++) {
      if (load<i32>(cdf + (<usize>s << 2)) <= load<i32>(cdf + (<usize>(s - 1) << 2))) {
        setErrIndex(t);
        return 0;
      }
    }
    const lo = load<i32>(offPtr + (<usize>t << 2));
    if (lo < -(1 << 30) || lo > (1 << 30)) {
      setErrIndex(t);
      return 0;
    }
    const lut = alloc(LUT_SIZE << 1);
    if (lut == 0) {
      buildStatus = ST_OOM;
      return 0;
    }
    let s: u32 = 0;
    for (let j: u32 = 0; j < LUT_SIZE; j++) {
      const slot = j << LUT_SHIFT;
      while (load<u32>(cdf + (<usize>(s + 1) << 2)) <= slot) s++;
      store<u16>(lut + (<usize>j << 1), <u16>s);
    }
    const m = meta + (<usize>t << 4);
    store<u32>(m, <u32>cdf, META_CDF);
    store<u32>(m, <u32>lut, META_LUT);
    store<i32>(m, lo, META_LO);
    store<u32>(m, n, META_N);
  }
  buildStatus = ST_OK;
  return meta;
}

// ---------------------------------------------------------------------------------------
// Encoder

let gOutPtr: usize = 0;
let gOutLen: u32 = 0;
export function getOutPtr(): usize {
  return gOutPtr;
}
export function getOutLen(): u32 {
  return gOutLen;
}

// escape-path encoder state (the hot path keeps x / ptr in locals)
let eX: u32 = 0;
let ePtr: usize = 0;

/**
 * Escape code e of value v for a table [lo, hi] (hi = lo + n - 2).
 * REQUIRES: n >= 1 (the table's symbol count, escape included).
 * ENSURES: returns e >= 0 with e + 1 < 2^32, or -1 if v is inside [lo, hi] (not an escape)
 *          or if e + 1 would not fit 32 bits.
 */
// @ts-ignore: decorator
@inline function escapeCode(v: i32, lo: i32, n: u32): i64 {
  const hi: i64 = <i64>lo + <i64>n - 2;
  let e: i64;
  if (<i64>v < <i64>lo) e = (<i64>lo - 1 - <i64>v) << 1;
  else if (<i64>v > hi) e = ((<i64>v - hi - 1) << 1) + 1;
  else return -1;
  if (e + 1 > 0xFFFF_FFFF) return -1;
  return e;
}

/**
 * Number of puts (rANS steps) the bypass part of an escape with code e takes.
 * REQUIRES: 0 <= e < 2^32 - 1.
 */
// @ts-ignore: decorator
@inline function escapePuts(e: u64): u32 {
  const z = <u32>(63 - clz<u64>(e + 1)); // prefix zeros
  return z + 1 + (z > 16 ? 2 : z > 0 ? 1 : 0);
}

/**
 * rANS put of (start, freq) on the escape-path state eX / ePtr.
 * REQUIRES: 1 <= freq <= 2^16, start + freq <= 2^16, L <= eX < 2^32, at least 2 writable
 *           bytes below ePtr (guaranteed by encodeSyms' exact sizing pass).
 * ENSURES: L <= eX < 2^32; at most one 16-bit word written at ePtr - 2.
 */
function ePut(start: u32, freq: u32): void {
  let x = eX;
  if (<u64>x >= (<u64>freq << 16)) {
    ePtr -= 2;
    store<u16>(ePtr, <u16>x);
    x >>= 16;
  }
  eX = ((x / freq) << 16) + (x % freq) + start;
}

/**
 * Put c equiprobable (bypass) bits of value v.
 * REQUIRES: 1 <= c <= 16, v < 2^c; same as ePut.
 */
// @ts-ignore: decorator
@inline function ePutBits(v: u32, c: u32): void {
  ePut(v << (16 - c), <u32>1 << (16 - c));
}

/**
 * Encode (in reverse order) the bypass part of an escape: suffix chunks, the 1 bit, z zeros.
 * REQUIRES: 0 <= e < 2^32 - 1; eX / ePtr hold the encoder state; room for
 *           escapePuts(e) words below ePtr.
 */
function encodeEscapeBits(e: u64): void {
  const v = e + 1;
  const z = <u32>(63 - clz<u64>(v));
  const c1 = z < 16 ? z : 16;
  const c2 = z - c1;
  const suffix = <u32>(v & ((<u64>1 << z) - 1));
  if (c2 > 0) ePutBits(suffix & ((<u32>1 << c2) - 1), c2);
  if (c1 > 0) ePutBits(suffix >> c2, c1);
  ePutBits(1, 1);
  for (let i: u32 = 0; i < z; i++) ePutBits(0, 1);
}

/**
 * Encode n values val[i] with table idx[i] (idxPtr = 0: table = i / perTable, for the
 * channel-major z stream).
 * REQUIRES: meta from buildTables() with T tables; valPtr (and idxPtr if non-zero) point to
 *           n i32 values each.
 * Checks: idx[i] < T, else BAD_INPUT (getErrIndex() = i); each escaped value's code fits 32
 *         bits, else BAD_INPUT.
 * ENSURES: on ST_OK, the stream is at getOutPtr() (getOutLen() bytes, >= 8) in the arena.
 */
export function encodeSyms(meta: usize, T: u32, valPtr: usize, idxPtr: usize, perTable: u32, n: u32): i32 {
  if (idxPtr == 0 && perTable == 0 && n > 0) return ST_BAD_INPUT;
  // pass 1: validate and size the output exactly (each put emits at most one word)
  let puts: u64 = n;
  let t: u32 = 0;
  let left: u32 = perTable;
  for (let i: u32 = 0; i < n; i++) {
    if (idxPtr != 0) t = load<u32>(idxPtr + (<usize>i << 2));
    else {
      while (left == 0) {
        t++;
        left = perTable;
      }
      left--;
    }
    if (t >= T) {
      setErrIndex(i);
      return ST_BAD_INPUT;
    }
    const m = meta + (<usize>t << 4);
    const lo = load<i32>(m, META_LO);
    const nsym = load<u32>(m, META_N);
    const v = load<i32>(valPtr + (<usize>i << 2));
    if (<u32>(v - lo) >= nsym - 1) {
      const e = escapeCode(v, lo, nsym);
      if (e < 0) {
        setErrIndex(i);
        return ST_BAD_INPUT;
      }
      puts += escapePuts(<u64>e);
    }
  }
  const cap64: u64 = 8 + (puts << 1);
  if (cap64 > 0x7FFF_0000) return ST_OOM;
  const cap = <usize>cap64;
  const buf = alloc(cap);
  if (buf == 0) return ST_OOM;

  // pass 2: encode backwards
  let ptr: usize = buf + cap;
  // two interleaved states: symbol i is coded by state A (i even) or B (i odd); x is the
  // state of the current symbol, y the other one, swapped after every symbol. Both start at
  // L, so which one is A only matters at the end: after symbol 0, y = A and x = B.
  let x: u32 = L;
  let y: u32 = L;
  // table of the last symbol for the implicit (z) indexing
  let tz: u32 = perTable > 0 && n > 0 ? (n - 1) / perTable : 0;
  let posInT: u32 = perTable > 0 && n > 0 ? (n - 1) % perTable : 0;
  for (let i: i32 = <i32>n - 1; i >= 0; i--) {
    if (idxPtr != 0) t = load<u32>(idxPtr + (<usize>i << 2));
    else {
      t = tz;
      if (posInT == 0) {
        tz--;
        posInT = perTable - 1;
      } else posInT--;
    }
    const m = meta + (<usize>t << 4);
    const cdf = <usize>load<u32>(m, META_CDF);
    const lo = load<i32>(m, META_LO);
    const nsym = load<u32>(m, META_N);
    const v = load<i32>(valPtr + (<usize>i << 2));
    let s = <u32>(v - lo);
    if (s >= nsym - 1) {
      // escape: bypass bits first (reverse order), then the escape symbol below
      eX = x;
      ePtr = ptr;
      encodeEscapeBits(<u64>escapeCode(v, lo, nsym));
      x = eX;
      ptr = ePtr;
      s = nsym - 1;
    }
    const start = load<u32>(cdf + (<usize>s << 2));
    const freq = load<u32>(cdf + (<usize>(s + 1) << 2)) - start;
    // branchless renormalisation: the word is stored at ptr-2 in any case and kept only if
    // emitted (a spurious store lands where the next word or the header will be written)
    const emit = <u64>x >= (<u64>freq << 16);
    store<u16>(ptr - 2, <u16>x);
    ptr -= <usize>emit << 1;
    x = select<u32>(x >> 16, x, emit);
    x = ((x / freq) << 16) + (x % freq) + start;
    const tmp = x;
    x = y;
    y = tmp;
  }
  // header: A (= y) then B (= x), written backwards
  ptr -= 8;
  store<u32>(ptr, y);
  store<u32>(ptr, x, 4);
  gOutPtr = ptr;
  gOutLen = <u32>(buf + cap - ptr);
  return ST_OK;
}

// ---------------------------------------------------------------------------------------
// Decoder

// escape-path decoder state
let dX: u32 = 0;
let dPos: usize = 0;
let dEnd: usize = 0;
let dOver: bool = false;
let dVal: i32 = 0;

/**
 * Read c equiprobable (bypass) bits from the escape-path decoder state dX / dPos / dEnd.
 * REQUIRES: 1 <= c <= 16, L <= dX < 2^32, dPos <= dEnd.
 * ENSURES: L <= dX < 2^32; reads at most one word, only inside [dPos, dEnd); past the end
 *          it shifts in zeros and sets dOver.
 */
function dGetBits(c: u32): u32 {
  let x = dX;
  const slot = x & 0xFFFF;
  const sh = 16 - c;
  const v = slot >> sh;
  x = ((x >> 16) << sh) + (slot & ((<u32>1 << sh) - 1));
  if (x < L) {
    if (dPos + 2 <= dEnd) {
      x = (x << 16) | <u32>load<u16>(dPos);
      dPos += 2;
    } else {
      x = x << 16;
      dOver = true;
    }
  }
  dX = x;
  return v;
}

/**
 * Decode the bypass part of an escape of table (lo, n); the value goes to dVal.
 * REQUIRES: n >= 1, |lo| <= 2^30 (buildTables checks it); decoder state in dX / dPos / dEnd.
 * ENSURES: at most 31 + 1 + 2 bypass reads; ST_CORRUPT if the prefix exceeds 31 zeros or
 *          the value does not fit int32 (the encoder never produces either).
 */
function decodeEscape(lo: i32, n: u32): i32 {
  let z: u32 = 0;
  while (dGetBits(1) == 0) {
    z++;
    if (z > 31) return ST_CORRUPT;
  }
  let v: u64 = 1;
  const c1 = z < 16 ? z : 16;
  const c2 = z - c1;
  if (c1 > 0) v = (v << c1) | dGetBits(c1);
  if (c2 > 0) v = (v << c2) | dGetBits(c2);
  const e: i64 = <i64>(v - 1);
  let r: i64;
  if (e & 1) r = <i64>lo + <i64>n - 2 + 1 + ((e - 1) >> 1);
  else r = <i64>lo - 1 - (e >> 1);
  if (r < <i64>i32.MIN_VALUE || r > <i64>i32.MAX_VALUE) return ST_CORRUPT;
  dVal = <i32>r;
  return ST_OK;
}

// ---------------------------------------------------------------------------------------
// Decoder step functions, shared by the batch decoder (decodeSyms) and the per-symbol decoder
// (decStart / decNext / decFinish, used when the table of a symbol depends on the symbols
// decoded before it: the per-image profile's context model).

/**
 * The symbol s of table m (meta entry) whose interval [cdf[s], cdf[s+1]) holds slot.
 * REQUIRES: m a meta entry of buildTables(); slot < 2^16.
 * ENSURES: bounded by the table length (cdf[n] = 2^16 > slot stops the walk).
 */
// @ts-ignore: decorator
@inline function findSym(m: usize, slot: u32): u32 {
  const cdf = <usize>load<u32>(m, META_CDF);
  const lut = <usize>load<u32>(m, META_LUT);
  let s = <u32>load<u16>(lut + (<usize>(slot >> LUT_SHIFT) << 1));
  while (slot >= load<u32>(cdf + (<usize>(s + 1) << 2))) s++;
  return s;
}

/**
 * The state after decoding symbol s (before renormalisation): freq·(x >> 16) + slot − start.
 * REQUIRES: s = findSym(m, x & 0xFFFF).
 */
// @ts-ignore: decorator
@inline function advance(m: usize, s: u32, x: u32): u32 {
  const cdf = <usize>load<u32>(m, META_CDF);
  const c0 = load<u32>(cdf + (<usize>s << 2));
  const c1 = load<u32>(cdf + (<usize>(s + 1) << 2));
  return (c1 - c0) * (x >> 16) + (x & 0xFFFF) - c0;
}

/**
 * The escape of table m after its escape symbol, on the state (x, pos): decodes the bypass
 * bits, leaves the state in dX / dPos and the value in dVal.
 * REQUIRES: pos <= end; L <= x.
 * ENSURES: ST_OK, ST_CORRUPT (decodeEscape) or ST_TRUNCATED (ran past end).
 */
function escapeStep(m: usize, x: u32, pos: usize, end: usize): i32 {
  dX = x;
  dPos = pos;
  dEnd = end;
  dOver = false;
  const st = decodeEscape(load<i32>(m, META_LO), load<u32>(m, META_N));
  if (dOver) return ST_TRUNCATED;
  return st;
}

/**
 * Decode n values into out[i] with table idx[i] (idxPtr = 0: table = i / perTable).
 * REQUIRES: meta from buildTables() with T tables; inPtr points to inLen readable bytes
 *           followed by at least 2 more readable bytes (any content: arena blocks have 16
 *           bytes of slack); idxPtr (if non-zero) to n i32; outPtr to n i32 of writable memory.
 * Checks: idx[i] < T (BAD_INPUT, getErrIndex() = i).
 * ENSURES: never uses a byte outside [inPtr, inPtr+inLen) (the branchless renormalisation may
 *          load the 2 slack bytes, but then stops with ST_TRUNCATED without using them);
 *          terminates in O(n + inLen) steps.
 *          ST_OK only if both final states are the initial 2^16 and every byte was consumed;
 *          ST_TRUNCATED as soon as it needs a word past the end; ST_CORRUPT otherwise.
 *          out[] is complete only on ST_OK.
 */
export function decodeSyms(meta: usize, T: u32, inPtr: usize, inLen: u32, idxPtr: usize, perTable: u32, outPtr: usize, n: u32): i32 {
  if (idxPtr == 0 && perTable == 0 && n > 0) return ST_BAD_INPUT;
  if (inLen < 8) return ST_TRUNCATED;
  // x: state of the current symbol (A for even i), y: the other one; swapped per symbol
  let x: u32 = load<u32>(inPtr);
  let y: u32 = load<u32>(inPtr, 4);
  if (x < L || y < L) return ST_CORRUPT;
  let pos: usize = inPtr + 8;
  const end: usize = inPtr + inLen;
  let t: u32 = 0;
  let left: u32 = perTable;
  for (let i: u32 = 0; i < n; i++) {
    if (idxPtr != 0) t = load<u32>(idxPtr + (<usize>i << 2));
    else {
      while (left == 0) {
        t++;
        left = perTable;
      }
      left--;
    }
    if (t >= T) {
      setErrIndex(i);
      return ST_BAD_INPUT;
    }
    const m = meta + (<usize>t << 4);
    const s = findSym(m, x & 0xFFFF);
    x = advance(m, s, x);
    // branchless renormalisation (the branch would be unpredictable): the word at pos is
    // loaded in any case (pos <= end here; the 2 bytes after the input are readable slack)
    // and used only if x < L. A valid stream never needs a word past its end, so pos > end
    // means the input is truncated: stop at once (bounded time on garbage).
    const need = x < L;
    const wrd = <u32>load<u16>(pos);
    x = select<u32>((x << 16) | wrd, x, need);
    pos += <usize>need << 1;
    if (pos > end) {
      setErrIndex(i);
      return ST_TRUNCATED;
    }
    const nsym = load<u32>(m, META_N);
    if (s == nsym - 1) {
      const st = escapeStep(m, x, pos, end);
      if (st != ST_OK) {
        setErrIndex(i);
        return st;
      }
      x = dX;
      pos = dPos;
      store<i32>(outPtr + (<usize>i << 2), dVal);
    } else {
      store<i32>(outPtr + (<usize>i << 2), load<i32>(m, META_LO) + <i32>s);
    }
    const tmp = x;
    x = y;
    y = tmp;
  }
  if (x != L || y != L || pos != end) return ST_CORRUPT;
  return ST_OK;
}

// Per-symbol decoder: same stream, same A/B interleaving (sX is the state of the next symbol,
// sY the other), state kept in globals between calls.
let sX: u32 = 0;
let sY: u32 = 0;
let sPos: usize = 0;
let sEnd: usize = 0;
let sVal: i32 = 0;

/**
 * Start decoding the stream [inPtr, inPtr + inLen) one symbol at a time.
 * REQUIRES: as decodeSyms (2 readable slack bytes after the input).
 * ENSURES: ST_OK, ST_TRUNCATED (< 8 bytes) or ST_CORRUPT (a header state below 2^16).
 */
export function decStart(inPtr: usize, inLen: u32): i32 {
  if (inLen < 8) return ST_TRUNCATED;
  sX = load<u32>(inPtr);
  sY = load<u32>(inPtr, 4);
  if (sX < L || sY < L) return ST_CORRUPT;
  sPos = inPtr + 8;
  sEnd = inPtr + inLen;
  return ST_OK;
}

/**
 * Decode the next symbol with table m (a meta entry of buildTables()); the value is decValue().
 * REQUIRES: decStart() returned ST_OK and every decNext() since returned ST_OK.
 * ENSURES: same steps as decodeSyms; ST_OK, ST_TRUNCATED or ST_CORRUPT (escape).
 */
export function decNext(m: usize): i32 {
  let x = sX;
  const s = findSym(m, x & 0xFFFF);
  x = advance(m, s, x);
  let pos = sPos;
  const need = x < L;
  const wrd = <u32>load<u16>(pos);
  x = select<u32>((x << 16) | wrd, x, need);
  pos += <usize>need << 1;
  if (pos > sEnd) return ST_TRUNCATED;
  if (s == load<u32>(m, META_N) - 1) {
    const st = escapeStep(m, x, pos, sEnd);
    if (st != ST_OK) return st;
    x = dX;
    pos = dPos;
    sVal = dVal;
  } else sVal = load<i32>(m, META_LO) + <i32>s;
  sPos = pos;
  sX = sY;
  sY = x;
  return ST_OK;
}

// @ts-ignore: decorator
@inline export function decValue(): i32 {
  return sVal;
}

/** ST_OK if the stream ended exactly (both states back to 2^16, every byte used), else ST_CORRUPT. */
export function decFinish(): i32 {
  return sX == L && sY == L && sPos == sEnd ? ST_OK : ST_CORRUPT;
}
