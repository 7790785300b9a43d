/**
 * The params section of the per-image profile (SPEC.md §2–3): parsing and validation of the
 * architecture bytes, coding of the tensor integers (one rANS stream, tensor t with the centred
 * table T[0][s_t]), and the prepared model of the current call (ARM weights as i16 pairs for
 * i32x4.dot_i16x8_s, float tensors as f32) used by latents.ts and synth.ts.
 *
 * Every range of SPEC §3 is checked on the header bytes alone, before anything proportional to
 * them is allocated. Failures are status codes: ST_CORRUPT (a value no encoder writes),
 * ST_TRUNCATED (section shorter than its fields), ST_OOM; the wrapper reports a bad params
 * object passed to an encoder as BAD_INPUT.
 */
import { alloc } from '../arena';
import { decodeSyms, encodeSyms, getOutLen, getOutPtr } from '../rans';
import { ST_CORRUPT, ST_OK, ST_OOM, ST_TRUNCATED, setErrIndex } from '../status';
import { lapMeta, NT, S_BASE } from './tables';

export const MAX_LAYERS: u32 = 8;
export const MAX_PARAMS: u32 = 65536;
export const MAX_MACS: u32 = 4096;

// architecture of the current call
export let aL: u32 = 0;
export let aN: u32 = 0;
export let aD: u32 = 0;
export let aWh: u32 = 0;
export let aS: u32 = 0;
/** synthesis layer i: kind (0 1x1, 1 3x3), in, out, act, residual — 5 u32 each */
export const synLayers: usize = memory.data(MAX_LAYERS * 5 * 4);
/** tensors: count, element counts, offsets into the k array, exponent, table index */
export let nTensors: u32 = 0;
export const tSize: usize = memory.data(32 * 4);
export const tOff: usize = memory.data(32 * 4);
export const tE: usize = memory.data(32 * 4);
export const tS: usize = memory.data(32 * 4);
export let nParams: u32 = 0;
let hdrLen: u32 = 0;

/** i32 field j of synthesis layer i */
// @ts-ignore: decorator
@inline export function syn(i: u32, j: u32): u32 {
  return load<u32>(synLayers + ((<usize>i * 5 + j) << 2));
}

function pushTensor(n: u32): void {
  store<u32>(tOff + (<usize>nTensors << 2), nParams);
  store<u32>(tSize + (<usize>nTensors << 2), n);
  nParams += n;
  nTensors++;
}

/** ARM multiply-accumulates per latent */
export function armMacs(N: u32, D: u32, Wh: u32): u32 {
  if (D == 0) return 2 * N;
  return N * Wh + (D - 1) * Wh * Wh + 2 * Wh;
}

/**
 * Parse and check the architecture bytes and the T (e, s) pairs at [p, p + len).
 * ENSURES: ST_OK with the globals above set and piHeaderLen() = bytes used; ST_TRUNCATED if
 *          len is too short for the fields it declares; ST_CORRUPT on any value out of range
 *          (getErrIndex() = offset of the byte at fault). Allocates nothing.
 */
export function parseHeader(p: usize, len: u32): i32 {
  nTensors = 0;
  nParams = 0;
  if (len < 5) return ST_TRUNCATED;
  const L = <u32>load<u8>(p);
  const N = <u32>load<u8>(p, 1);
  const D = <u32>load<u8>(p, 2);
  const Wh = <u32>load<u8>(p, 3);
  const S = <u32>load<u8>(p, 4);
  if (L < 1 || L > 8) return bad(0);
  if (N != 8 && N != 16 && N != 24) return bad(1);
  if (D > 3) return bad(2);
  if (Wh != 8 && Wh != 16 && Wh != 24 && Wh != 32) return bad(3);
  if (S < 1 || S > MAX_LAYERS) return bad(4);
  if (len < 5 + 4 * S) return ST_TRUNCATED;
  aL = L;
  aN = N;
  aD = D;
  aWh = Wh;
  aS = S;
  // tensors: ARM layers, taps, synthesis layers
  let inA = N;
  for (let l: u32 = 0; l < D; l++) {
    pushTensor(Wh * inA);
    pushTensor(Wh);
    inA = Wh;
  }
  pushTensor(2 * inA);
  pushTensor(2);
  pushTensor(4);
  let macs: u32 = armMacs(N, D, Wh);
  let c = L;
  for (let i: u32 = 0; i < S; i++) {
    const q = p + 5 + 4 * i;
    const kind = <u32>load<u8>(q);
    const out = <u32>load<u8>(q, 1);
    const act = <u32>load<u8>(q, 2);
    const res = <u32>load<u8>(q, 3);
    const at = 5 + 4 * i;
    if (kind > 1) return bad(at);
    if (out < 1 || out > 64 || (i == S - 1 && out != 3)) return bad(at + 1);
    if (act > 1) return bad(at + 2);
    if (res > 1 || (res == 1 && out != c)) return bad(at + 3);
    const k2: u32 = kind == 1 ? 9 : 1;
    const d = synLayers + <usize>i * 20;
    store<u32>(d, kind);
    store<u32>(d, c, 4);
    store<u32>(d, out, 8);
    store<u32>(d, act, 12);
    store<u32>(d, res, 16);
    pushTensor(out * c * k2);
    pushTensor(out);
    macs += out * c * k2;
    c = out;
  }
  if (nParams > MAX_PARAMS) return bad(4);
  if (macs > MAX_MACS) return bad(4);
  const T = nTensors;
  const base: u32 = 5 + 4 * S;
  if (len < base + 2 * T) return ST_TRUNCATED;
  const nArm: u32 = 2 * (D + 1);
  for (let t: u32 = 0; t < T; t++) {
    const e = <u32>load<u8>(p + base + 2 * t);
    const s = <u32>load<u8>(p + base + 2 * t + 1);
    if (e > (t < nArm ? <u32>8 : <u32>24)) return bad(base + 2 * t);
    if (s >= 80) return bad(base + 2 * t + 1);
    store<u32>(tE + (<usize>t << 2), e);
    store<u32>(tS + (<usize>t << 2), s);
  }
  hdrLen = base + 2 * T;
  return ST_OK;
}

function bad(at: u32): i32 {
  setErrIndex(<i32>at);
  return ST_CORRUPT;
}

export function piHeaderLen(): u32 {
  return hdrLen;
}
export function piParamCount(): u32 {
  return nParams;
}
export function piTensorCount(): u32 {
  return nTensors;
}

// ---------------------------------------------------------------------------------------
// prepared model

/** ARM layer l: in, out, outP (out rounded up to 4), weights (i16 pairs [in/2][outP][2]), bias (i32 [outP]) */
export const armLayers: usize = memory.data(4 * 5 * 4);
/** f32 tensors: taps [4], then per synthesis layer W and b pointers */
export const taps: usize = memory.data(16, 16);
export const synW: usize = memory.data(MAX_LAYERS * 4);
export const synB: usize = memory.data(MAX_LAYERS * 4);
let kPtr: usize = 0;

export function piK(): usize {
  return kPtr;
}

/**
 * Check the tensor integers k (nParams i32 at kp) against SPEC §3 and build the prepared
 * model. REQUIRES: parseHeader() returned ST_OK.
 * ENSURES: ST_OK; ST_CORRUPT (getErrIndex() = element index) if an ARM weight is beyond
 *          ±1023 or a bias beyond ±2^20 after k·2^e, or a float tensor's |k| > 2^20; ST_OOM.
 */
export function prepare(kp: usize): i32 {
  kPtr = kp;
  const nArm: u32 = 2 * (aD + 1);
  for (let t: u32 = 0; t < nTensors; t++) {
    const off = load<u32>(tOff + (<usize>t << 2));
    const n = load<u32>(tSize + (<usize>t << 2));
    const e = load<u32>(tE + (<usize>t << 2));
    const lim: i64 = t < nArm ? ((t & 1) == 0 ? 1023 : 1 << 20) : 1 << 20;
    const sh: u32 = t < nArm ? e : 0;
    for (let i: u32 = 0; i < n; i++) {
      const v = <i64>load<i32>(kp + (<usize>(off + i) << 2)) << sh;
      if (v > lim || v < -lim) {
        setErrIndex(<i32>(off + i));
        return ST_CORRUPT;
      }
    }
  }
  // ARM: i16 pair layout, biases (layer 0: Q8; others: Q16, i.e. << 8)
  let inA = aN;
  for (let l: u32 = 0; l <= aD; l++) {
    const out: u32 = l == aD ? 2 : aWh;
    const outP = (out + 3) & ~3;
    const tw = 2 * l;
    const ew = load<u32>(tE + (<usize>tw << 2));
    const eb = load<u32>(tE + (<usize>(tw + 1) << 2));
    const W = kp + (<usize>load<u32>(tOff + (<usize>tw << 2)) << 2);
    const B = kp + (<usize>load<u32>(tOff + (<usize>(tw + 1) << 2)) << 2);
    const w16 = alloc(<usize>inA * outP * 2);
    const b32 = alloc(<usize>outP * 4);
    if (w16 == 0 || b32 == 0) return ST_OOM;
    for (let o: u32 = 0; o < outP; o++) {
      for (let j: u32 = 0; j < inA; j++) {
        const v = o < out ? load<i32>(W + (<usize>(o * inA + j) << 2)) << ew : 0;
        // pair p = j >> 1 holds outputs 0..outP-1, each as (in 2p, in 2p+1)
        store<i16>(w16 + ((<usize>((j >> 1) * outP + o) * 2 + (j & 1)) << 1), <i16>v);
      }
      const b = o < out ? load<i32>(B + (<usize>o << 2)) << eb : 0;
      store<i32>(b32 + (<usize>o << 2), l == 0 ? b : b << 8);
    }
    const d = armLayers + <usize>l * 20;
    store<u32>(d, inA);
    store<u32>(d, out, 4);
    store<u32>(d, outP, 8);
    store<u32>(d, <u32>w16, 12);
    store<u32>(d, <u32>b32, 16);
    inA = aWh;
  }
  // float tensors: value k · 2^-e (exact in f32: |k| <= 2^20)
  const tt = nArm;
  for (let i: u32 = 0; i < 4; i++) store<f32>(taps + (<usize>i << 2), fval(kp, tt, i));
  for (let l: u32 = 0; l < aS; l++) {
    const tw = nArm + 1 + 2 * l;
    const nw = load<u32>(tSize + (<usize>tw << 2));
    const nb = load<u32>(tSize + (<usize>(tw + 1) << 2));
    const w = alloc(<usize>nw << 2);
    const b = alloc(<usize>nb << 2);
    if (w == 0 || b == 0) return ST_OOM;
    for (let i: u32 = 0; i < nw; i++) store<f32>(w + (<usize>i << 2), fval(kp, tw, i));
    for (let i: u32 = 0; i < nb; i++) store<f32>(b + (<usize>i << 2), fval(kp, tw + 1, i));
    store<u32>(synW + (<usize>l << 2), <u32>w);
    store<u32>(synB + (<usize>l << 2), <u32>b);
  }
  return ST_OK;
}

function fval(kp: usize, t: u32, i: u32): f32 {
  const off = load<u32>(tOff + (<usize>t << 2));
  const e = load<u32>(tE + (<usize>t << 2));
  return <f32>(<f64>load<i32>(kp + (<usize>(off + i) << 2)) * reinterpret<f64>(<u64>(1023 - <i64>e) << 52));
}

/** table index (meta entry number) of every parameter: T[0][s_t] of the base set, whatever the file's scale set */
function paramTables(): usize {
  const idx = alloc(<usize>nParams << 2);
  if (idx == 0) return 0;
  for (let t: u32 = 0; t < nTensors; t++) {
    const off = load<u32>(tOff + (<usize>t << 2));
    const n = load<u32>(tSize + (<usize>t << 2));
    const s = load<u32>(tS + (<usize>t << 2)) + S_BASE;
    for (let i: u32 = 0; i < n; i++) store<u32>(idx + (<usize>(off + i) << 2), s);
  }
  return idx;
}

/**
 * Decode a params section [p, p + len): header, u32 stream length, stream; then prepare().
 * REQUIRES: lapInit() OK; p readable for len + 2 bytes (arena slack).
 * ENSURES: ST_OK (piK() holds the nParams integers, the model is prepared); ST_TRUNCATED when
 *          len is short of a declared field; ST_CORRUPT on a bad value, a stream that does not
 *          end exactly at len, or bad stream content; ST_OOM.
 */
export function piDecodeParams(p: usize, len: u32): i32 {
  const st = parseHeader(p, len);
  if (st != ST_OK) return st;
  if (len - hdrLen < 4) return ST_TRUNCATED;
  const sl = load<u32>(p + hdrLen);
  const rest = len - hdrLen - 4;
  if (sl > rest) return ST_TRUNCATED;
  if (sl < rest) return ST_CORRUPT;
  const idx = paramTables();
  const k = alloc(<usize>nParams << 2);
  if (idx == 0 || k == 0) return ST_OOM;
  const ds = decodeSyms(lapMeta(), NT, p + hdrLen + 4, sl, idx, 0, k, nParams);
  if (ds != ST_OK) return ds == ST_TRUNCATED ? ST_CORRUPT : ds; // the length came from the section
  return prepare(k);
}

/**
 * Check and prepare a model given as header bytes [hp, hp + hl) and nk integers at kp (the
 * encoder's and synthesize()'s entry).
 * ENSURES: ST_OK; ST_CORRUPT / ST_TRUNCATED as parseHeader and prepare; ST_CORRUPT if
 *          hl or nk disagree with the header.
 */
export function piSetModel(hp: usize, hl: u32, kp: usize, nk: u32): i32 {
  const st = parseHeader(hp, hl);
  if (st != ST_OK) return st;
  if (hl != hdrLen || nk != nParams) return ST_CORRUPT;
  return prepare(kp);
}

/**
 * Encode a params section from header bytes and integers (piSetModel's checks first).
 * ENSURES: ST_OK with the section at getOutPtr() / getOutLen(); statuses of piSetModel; ST_OOM.
 */
export function piEncodeParams(hp: usize, hl: u32, kp: usize, nk: u32): i32 {
  const st = piSetModel(hp, hl, kp, nk);
  if (st != ST_OK) return st;
  const idx = paramTables();
  if (idx == 0) return ST_OOM;
  const es = encodeSyms(lapMeta(), NT, kp, idx, 0, nParams);
  if (es != ST_OK) return es;
  const sp = getOutPtr();
  const sl = getOutLen();
  const out = alloc(<usize>hl + 4 + sl);
  if (out == 0) return ST_OOM;
  memory.copy(out, hp, hl);
  store<u32>(out + hl, sl);
  memory.copy(out + hl + 4, sp, sl);
  piOutPtr = out;
  piOutLen = hl + 4 + sl;
  return ST_OK;
}

let piOutPtr: usize = 0;
let piOutLen: u32 = 0;
export function piOut(): usize {
  return piOutPtr;
}
export function piOutLength(): u32 {
  return piOutLen;
}
export function setPiOut(p: usize, n: u32): void {
  piOutPtr = p;
  piOutLen = n;
}
