/**
 * Weight-set loader (weights/README.md). Platform-neutral: no Node module is imported here;
 * SHA-256 comes from WebCrypto (`globalThis.crypto.subtle`: Node >= 20, browsers, workers).
 */
import { NimgError } from '../errors.js';
import type { ModelWeights, TensorEntry, WeightsManifest } from './types.js';

export const WEIGHTS_FORMAT = 'nimg-weights';
export const WEIGHTS_VERSION = 1;

const DTYPE_BYTES: Record<TensorEntry['dtype'], number> = { float32: 4, float16: 2, int8: 1, int32: 4 };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bad(msg: string): never {
  throw new NimgError('BAD_INPUT', `weights manifest: ${msg}`);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** IEEE 754 binary16 → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

let HALF_LUT: Float32Array | null = null;
function halfLut(): Float32Array {
  if (!HALF_LUT) {
    HALF_LUT = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) HALF_LUT[i] = halfToFloat(i);
  }
  return HALF_LUT;
}

export async function sha256Hex(bin: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) throw new NimgError('INTERNAL', 'WebCrypto (crypto.subtle) is not available in this runtime');
  // WebCrypto refuses views of a SharedArrayBuffer: hash a copy then.
  const data = typeof SharedArrayBuffer !== 'undefined' && bin.buffer instanceof SharedArrayBuffer ? bin.slice() : bin;
  const digest = new Uint8Array(await subtle.digest('SHA-256', data as unknown as BufferSource));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

function validateManifest(m: unknown): WeightsManifest {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) bad('not an object');
  const o = m as Record<string, unknown>;
  if (o.format !== WEIGHTS_FORMAT) bad(`format is ${JSON.stringify(o.format)}, expected "${WEIGHTS_FORMAT}"`);
  if (o.version !== WEIGHTS_VERSION) {
    throw new NimgError('UNSUPPORTED_VERSION', `weights version ${String(o.version)} (this build reads ${WEIGHTS_VERSION})`);
  }
  if (typeof o.model_id !== 'string' || o.model_id.length === 0 || o.model_id.length > 16 || !/^[\x20-\x7e]+$/.test(o.model_id)) {
    bad('model_id must be 1..16 printable ASCII characters');
  }
  if (typeof o.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(o.sha256)) bad('sha256 must be 64 hex digits');
  const arch = o.arch as Record<string, unknown> | undefined;
  if (!arch || typeof arch !== 'object') bad('arch missing');
  for (const k of ['N', 'M', 'Nz', 'stride'] as const) {
    if (!isInt(arch[k]) || (arch[k] as number) <= 0) bad(`arch.${k} must be a positive integer`);
  }
  if (!Array.isArray(arch.hs_hidden) || !arch.hs_hidden.every((v) => isInt(v) && v > 0)) bad('arch.hs_hidden must be positive integers');
  if ((arch.stride as number) % 16 !== 0) bad('arch.stride must be a multiple of 16');
  const tensors = o.tensors as Record<string, unknown> | undefined;
  if (!tensors || typeof tensors !== 'object' || Array.isArray(tensors)) bad('tensors missing');
  for (const [name, t] of Object.entries(tensors)) {
    const e = t as Record<string, unknown>;
    if (!e || typeof e !== 'object') bad(`tensor ${name}: not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) bad(`tensor ${name}: bad dtype ${String(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => isInt(d) && d >= 0)) bad(`tensor ${name}: bad shape`);
    if (!isInt(e.offset) || e.offset < 0 || !isInt(e.length) || e.length < 0) bad(`tensor ${name}: bad offset/length`);
  }
  return o as unknown as WeightsManifest;
}

function readTensor(name: string, spec: WeightsManifest['tensors'][string], bin: Uint8Array): TensorEntry {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const bytes = DTYPE_BYTES[spec.dtype];
  if (spec.length !== count * bytes) {
    throw new NimgError('MODEL_MISMATCH', `tensor ${name}: length ${spec.length} != ${count} x ${bytes} bytes`);
  }
  if (spec.offset + spec.length > bin.byteLength) {
    throw new NimgError('MODEL_MISMATCH', `tensor ${name}: bytes [${spec.offset}, ${spec.offset + spec.length}) outside the ${bin.byteLength}-byte .bin`);
  }
  const start = bin.byteOffset + spec.offset;
  // Copy into a fresh (aligned) buffer: the tensor owns its data.
  const raw = bin.buffer.slice(start, start + spec.length) as ArrayBuffer;
  const dv = new DataView(raw);
  switch (spec.dtype) {
    case 'int8':
      return { dtype: 'int8', shape: spec.shape.slice(), data: new Int8Array(raw) };
    case 'int32': {
      if (LITTLE_ENDIAN) return { dtype: 'int32', shape: spec.shape.slice(), data: new Int32Array(raw) };
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt32(4 * i, true);
      return { dtype: 'int32', shape: spec.shape.slice(), data: a };
    }
    case 'float32': {
      if (LITTLE_ENDIAN) return { dtype: 'float32', shape: spec.shape.slice(), data: new Float32Array(raw) };
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat32(4 * i, true);
      return { dtype: 'float32', shape: spec.shape.slice(), data: a };
    }
    case 'float16': {
      const lut = halfLut();
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = lut[dv.getUint16(2 * i, true)];
      // Widened at load: the entry reports the data it carries.
      return { dtype: 'float32', shape: spec.shape.slice(), data: a };
    }
  }
}

/**
 * Parse and verify a weight set: manifest (JSON text or object) + the .bin bytes.
 * Errors: BAD_INPUT (malformed manifest), UNSUPPORTED_VERSION, MODEL_MISMATCH (hash,
 * or a tensor range/length inconsistent with the .bin).
 */
export async function parseWeights(manifest: string | object, bin: Uint8Array): Promise<ModelWeights> {
  let m: unknown = manifest;
  if (typeof manifest === 'string') {
    try {
      m = JSON.parse(manifest);
    } catch (e) {
      throw new NimgError('BAD_INPUT', 'weights manifest is not valid JSON', { cause: e });
    }
  }
  if (!(bin instanceof Uint8Array)) throw new NimgError('BAD_INPUT', 'weights .bin must be a Uint8Array');
  const man = validateManifest(m);
  const hex = await sha256Hex(bin);
  if (hex !== man.sha256.toLowerCase()) {
    throw new NimgError('MODEL_MISMATCH', `weights .bin sha256 ${hex} does not match manifest ${man.sha256}`);
  }
  const tensors = new Map<string, TensorEntry>();
  for (const [name, spec] of Object.entries(man.tensors)) tensors.set(name, readTensor(name, spec, bin));
  for (const [name, t] of tensors) {
    if (t.dtype === 'int8' && !name.startsWith('hs.')) {
      const s = tensors.get(`${name}.scale`);
      if (!s || s.dtype !== 'float32' || s.data.length !== t.shape[0]) {
        throw new NimgError('MODEL_MISMATCH', `int8 tensor ${name} needs a float32 ${name}.scale with ${t.shape[0]} values`);
      }
    }
  }
  return { manifest: man, hash: hex.slice(0, 16), tensors };
}

/**
 * A float layer tensor as float32: float32/float16 as is, int8 dequantized with its
 * `.scale` companion (one value per output channel, i.e. per index of dim 0).
 */
export function floatTensor(w: ModelWeights, name: string, shape?: number[]): Float32Array {
  const t = w.tensors.get(name);
  if (!t) throw new NimgError('MODEL_MISMATCH', `weights lack tensor ${name}`);
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    throw new NimgError('MODEL_MISMATCH', `tensor ${name} has shape [${t.shape}], expected [${shape}]`);
  }
  if (t.dtype === 'float32' || t.dtype === 'float16') return t.data as Float32Array;
  if (t.dtype === 'int8') {
    const s = w.tensors.get(`${name}.scale`);
    if (!s) throw new NimgError('MODEL_MISMATCH', `int8 tensor ${name} lacks ${name}.scale`);
    const sc = s.data as Float32Array;
    const q = t.data as Int8Array;
    const out = t.shape[0];
    const per = out ? q.length / out : 0;
    const r = new Float32Array(q.length);
    for (let o = 0; o < out; o++) {
      const f = sc[o];
      for (let i = o * per, e = i + per; i < e; i++) r[i] = q[i] * f;
    }
    return r;
  }
  throw new NimgError('MODEL_MISMATCH', `tensor ${name} is ${t.dtype}, expected a float tensor`);
}
