/**
 * The .nimg container, version 1 (FORMAT.md is the specification; keep the two in step).
 *
 *   offset size  field
 *    0      8    signature  4E 49 4D 47 0D 0A 87 0A   ("NIMG" CR LF 0x87 LF)
 *    8      1    version    1
 *    9      1    required flags (bit 0: alpha stream); any other bit set → UNSUPPORTED_VERSION
 *   10      1    optional flags (none defined; readers ignore unknown bits)
 *   11      1    reserved, 0
 *   12     16    model id, printable ASCII, NUL-padded
 *   28      8    weights hash (first 8 bytes of SHA-256 of the weights .bin)
 *   36      4    width,  u32 LE, >= 1
 *   40      4    height, u32 LE, >= 1
 *   44      2    quality, u16 LE, q × 256, 256..2048
 *   46      2    reserved, 0
 *   48      4    z stream length, u32 LE
 *   52      4    y stream length, u32 LE
 *   56      4    alpha stream length, u32 LE (0 unless the alpha flag is set, then >= 1)
 *   60      4    payload CRC-32 (z ‖ y ‖ alpha)
 *   64      4    header CRC-32 of bytes 0..63
 *   68           payload: z stream, y stream, alpha stream; nothing after it
 *
 * Every function here throws only NimgError.
 */
import { NimgError } from '../errors.js';
import { DEFAULT_LIMITS, checkDimensions, checkFileBytes, resolveLimits, type Limits } from '../limits.js';
import { crc32, crc32Update } from './crc32.js';

export const SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(0x4e, 0x49, 0x4d, 0x47, 0x0d, 0x0a, 0x87, 0x0a);
export const CONTAINER_VERSION = 1;
export const HEADER_SIZE = 68;
/** Required flag: an alpha stream follows the y stream. */
export const FLAG_ALPHA = 0x01;
export const KNOWN_REQUIRED_FLAGS = FLAG_ALPHA;
/** Quality is stored as round(q × QUALITY_SCALE). */
export const QUALITY_SCALE = 256;
export const QUALITY_MIN = 1;
export const QUALITY_MAX = 8;
export const MODEL_ID_BYTES = 16;
export const WEIGHTS_HASH_BYTES = 8;
/** Padding stride of the image (weights/README.md arch.stride); latent dimensions derive from it. */
export const STRIDE = 64;

export interface NimgHeader {
  version: number;
  requiredFlags: number;
  optionalFlags: number;
  hasAlpha: boolean;
  modelId: string;
  /** 16 lowercase hex digits */
  weightsHash: string;
  width: number;
  height: number;
  /** the exact quality the file was coded with: a multiple of 1/256 in [1, 8] */
  quality: number;
  zLength: number;
  yLength: number;
  alphaLength: number;
  payloadCrc: number;
  headerCrc: number;
  /** HEADER_SIZE + zLength + yLength + alphaLength */
  fileLength: number;
}

export interface NimgStreams {
  z: Uint8Array;
  y: Uint8Array;
  /** null when the image is opaque */
  alpha: Uint8Array | null;
}

export interface NimgFile extends NimgStreams {
  header: NimgHeader;
}

export interface WriteFields extends NimgStreams {
  width: number;
  height: number;
  quality: number;
  modelId: string;
  weightsHash: string;
}

export interface ParseOptions {
  /** merged over DEFAULT_LIMITS and validated (BAD_INPUT when malformed) */
  limits?: Partial<Limits>;
  /** When given, a file made with another model or weight set → MODEL_MISMATCH. */
  expect?: { modelId: string; weightsHash: string };
}

/** Latent geometry implied by the image size (weights/README.md). */
export interface LatentGeometry {
  padW: number;
  padH: number;
  /** y latent: [M, h, w] */
  h: number;
  w: number;
  /** z hyper-latent: [Nz, hz, wz] */
  hz: number;
  wz: number;
}

export function latentGeometry(width: number, height: number, stride = STRIDE): LatentGeometry {
  const padW = Math.ceil(width / stride) * stride;
  const padH = Math.ceil(height / stride) * stride;
  return { padW, padH, w: padW / 16, h: padH / 16, wz: padW / 64, hz: padH / 64 };
}

/** Round a quality to what the container stores; BAD_INPUT outside [1, 8]. */
export function quantizeQuality(q: number): number {
  if (typeof q !== 'number' || !Number.isFinite(q) || q < QUALITY_MIN || q > QUALITY_MAX) {
    throw new NimgError('BAD_INPUT', `quality must be a number in [${QUALITY_MIN}, ${QUALITY_MAX}], got ${String(q)}`);
  }
  return Math.round(q * QUALITY_SCALE) / QUALITY_SCALE;
}

function isHex16(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-fA-F]{16}$/.test(s);
}

function isModelId(s: unknown): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= MODEL_ID_BYTES && /^[\x20-\x7e]+$/.test(s);
}

function u32ok(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Serialise a .nimg file. BAD_INPUT on fields the format cannot carry. */
export function writeContainer(f: WriteFields): Uint8Array {
  if (!isModelId(f.modelId)) throw new NimgError('BAD_INPUT', `model id must be 1..16 printable ASCII characters, got ${JSON.stringify(f.modelId)}`);
  if (!isHex16(f.weightsHash)) throw new NimgError('BAD_INPUT', `weights hash must be 16 hex digits, got ${JSON.stringify(f.weightsHash)}`);
  if (!u32ok(f.width) || !u32ok(f.height) || f.width < 1 || f.height < 1) {
    throw new NimgError('BAD_INPUT', `width and height must be integers in [1, 2^32-1], got ${f.width}x${f.height}`);
  }
  const qFixed = Math.round(quantizeQuality(f.quality) * QUALITY_SCALE);
  if (!(f.z instanceof Uint8Array) || !(f.y instanceof Uint8Array) || (f.alpha !== null && !(f.alpha instanceof Uint8Array))) {
    throw new NimgError('BAD_INPUT', 'streams must be Uint8Arrays');
  }
  if (f.alpha !== null && f.alpha.length === 0) throw new NimgError('BAD_INPUT', 'an alpha stream, when present, is not empty');
  const aLen = f.alpha ? f.alpha.length : 0;
  const total = HEADER_SIZE + f.z.length + f.y.length + aLen;
  if (f.z.length > 0xffffffff || f.y.length > 0xffffffff || aLen > 0xffffffff) throw new NimgError('LIMIT_EXCEEDED', 'a stream exceeds 4 GiB');
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  out[8] = CONTAINER_VERSION;
  out[9] = f.alpha ? FLAG_ALPHA : 0;
  out[10] = 0;
  out[11] = 0;
  for (let i = 0; i < f.modelId.length; i++) out[12 + i] = f.modelId.charCodeAt(i);
  for (let i = 0; i < WEIGHTS_HASH_BYTES; i++) out[28 + i] = parseInt(f.weightsHash.slice(2 * i, 2 * i + 2), 16);
  dv.setUint32(36, f.width, true);
  dv.setUint32(40, f.height, true);
  dv.setUint16(44, qFixed, true);
  dv.setUint16(46, 0, true);
  dv.setUint32(48, f.z.length, true);
  dv.setUint32(52, f.y.length, true);
  dv.setUint32(56, aLen, true);
  return sealContainer(out, HEADER_SIZE, [f.z, f.y, f.alpha], 60);
}

/**
 * The end of every container version's writer: the sections copied in order after the
 * header (null: absent), then the payload CRC (of everything after the header) at
 * `payloadCrcAt` and the header CRC (of bytes 0 … payloadCrcAt + 3) just after it.
 * REQUIRES: `out` is header + the sections' lengths long, the rest of the header written.
 */
export function sealContainer(out: Uint8Array, headerSize: number, sections: readonly (Uint8Array | null)[], payloadCrcAt: number): Uint8Array {
  let p = headerSize;
  for (const sec of sections) {
    if (!sec) continue;
    out.set(sec, p);
    p += sec.length;
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(payloadCrcAt, crc32(out, headerSize, out.length), true);
  dv.setUint32(payloadCrcAt + 4, crc32(out, 0, payloadCrcAt + 4), true);
  return out;
}

/** The caller's .nimg bytes as a Uint8Array view (no copy), for every container version. */
export function asBytes(input: unknown): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new NimgError('BAD_INPUT', 'expected the .nimg bytes as a Uint8Array, ArrayBuffer or ArrayBufferView');
}

const hex2 = (b: number) => b.toString(16).padStart(2, '0');

/**
 * Parse and validate the 68-byte header (and only the header: the payload may be absent).
 * Checks in this order: signature, version, header length, header CRC, flags, field values,
 * limits. Errors: TRUNCATED, BAD_SIGNATURE, UNSUPPORTED_VERSION, CHECKSUM_MISMATCH,
 * CORRUPT_STREAM (a field value no writer produces), LIMIT_EXCEEDED.
 */
export function parseHeader(input: Uint8Array | ArrayBuffer | ArrayBufferView, opts: ParseOptions = {}): NimgHeader {
  const b = asBytes(input);
  if (b.length === 0) throw new NimgError('TRUNCATED', 'empty input: not a .nimg file');
  const n = Math.min(b.length, SIGNATURE.length);
  for (let i = 0; i < n; i++) {
    if (b[i] !== SIGNATURE[i]) throw new NimgError('BAD_SIGNATURE', 'not a .nimg file (signature mismatch)');
  }
  if (b.length <= 8) throw new NimgError('TRUNCATED', `.nimg file truncated at ${b.length} bytes, inside the ${HEADER_SIZE}-byte header`);
  if (b[8] !== CONTAINER_VERSION) {
    throw new NimgError('UNSUPPORTED_VERSION', `.nimg container version ${b[8]}; this reader supports version ${CONTAINER_VERSION}`);
  }
  if (b.length < HEADER_SIZE) throw new NimgError('TRUNCATED', `.nimg file truncated at ${b.length} bytes, inside the ${HEADER_SIZE}-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  const headerCrc = dv.getUint32(64, true);
  const actual = crc32(b, 0, 64);
  if (actual !== headerCrc) {
    throw new NimgError('CHECKSUM_MISMATCH', `.nimg header CRC-32 mismatch (stored ${headerCrc.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')})`);
  }
  const requiredFlags = b[9];
  const unknown = requiredFlags & ~KNOWN_REQUIRED_FLAGS;
  if (unknown) {
    throw new NimgError('UNSUPPORTED_VERSION', `.nimg file needs features this reader does not support (required flags 0x${hex2(unknown)})`);
  }
  const optionalFlags = b[10];
  let modelId = '';
  let ended = false;
  for (let i = 0; i < MODEL_ID_BYTES; i++) {
    const c = b[12 + i];
    if (c === 0) {
      ended = true;
      continue;
    }
    if (ended || c < 0x20 || c > 0x7e) throw new NimgError('CORRUPT_STREAM', '.nimg model id is not NUL-padded printable ASCII');
    modelId += String.fromCharCode(c);
  }
  if (!modelId) throw new NimgError('CORRUPT_STREAM', '.nimg model id is empty');
  let weightsHash = '';
  for (let i = 0; i < WEIGHTS_HASH_BYTES; i++) weightsHash += hex2(b[28 + i]);
  const width = dv.getUint32(36, true);
  const height = dv.getUint32(40, true);
  if (width === 0 || height === 0) throw new NimgError('CORRUPT_STREAM', `.nimg header has an empty image (${width}x${height})`);
  const qFixed = dv.getUint16(44, true);
  if (qFixed < QUALITY_MIN * QUALITY_SCALE || qFixed > QUALITY_MAX * QUALITY_SCALE) {
    throw new NimgError('CORRUPT_STREAM', `.nimg quality field ${qFixed}/256 is outside [1, 8]`);
  }
  const zLength = dv.getUint32(48, true);
  const yLength = dv.getUint32(52, true);
  const alphaLength = dv.getUint32(56, true);
  const hasAlpha = (requiredFlags & FLAG_ALPHA) !== 0;
  if (hasAlpha !== alphaLength > 0) {
    throw new NimgError('CORRUPT_STREAM', `.nimg alpha flag (${hasAlpha ? 'set' : 'clear'}) disagrees with the alpha stream length ${alphaLength}`);
  }
  // public entry: a caller's partial or malformed limits are merged and checked, never trusted
  const limits = opts?.limits === undefined ? DEFAULT_LIMITS : resolveLimits(opts.limits);
  checkDimensions(width, height, limits, '.nimg image');
  const fileLength = HEADER_SIZE + zLength + yLength + alphaLength; // < 2^35: exact in a double
  checkFileBytes(fileLength, limits);
  return {
    version: b[8],
    requiredFlags,
    optionalFlags,
    hasAlpha,
    modelId,
    weightsHash,
    width,
    height,
    quality: qFixed / QUALITY_SCALE,
    zLength,
    yLength,
    alphaLength,
    payloadCrc: dv.getUint32(60, true),
    headerCrc,
    fileLength,
  };
}

/**
 * Parse a whole .nimg file: the header (parseHeader), then the payload length (TRUNCATED if
 * short, CORRUPT_STREAM on trailing bytes), the payload CRC (CHECKSUM_MISMATCH) and, when
 * `opts.expect` is given, the model (MODEL_MISMATCH). The streams are views into `input`.
 */
export function parseContainer(input: Uint8Array | ArrayBuffer | ArrayBufferView, opts: ParseOptions = {}): NimgFile {
  const b = asBytes(input);
  opts ??= {};
  const header = parseHeader(b, opts);
  if (b.length < header.fileLength) {
    throw new NimgError('TRUNCATED', `.nimg file truncated: ${b.length} of ${header.fileLength} bytes`);
  }
  if (b.length > header.fileLength) {
    throw new NimgError('CORRUPT_STREAM', `.nimg file has ${b.length - header.fileLength} bytes of trailing data after its payload`);
  }
  const pcrc = crc32Update(0, b, HEADER_SIZE, header.fileLength);
  if (pcrc !== header.payloadCrc) {
    throw new NimgError('CHECKSUM_MISMATCH', `.nimg payload CRC-32 mismatch (stored ${header.payloadCrc.toString(16).padStart(8, '0')}, computed ${pcrc.toString(16).padStart(8, '0')})`);
  }
  if (opts.expect) {
    const { modelId, weightsHash } = opts.expect;
    if (header.modelId !== modelId || header.weightsHash !== weightsHash.toLowerCase()) {
      throw new NimgError(
        'MODEL_MISMATCH',
        `.nimg file was made with model ${header.modelId} (weights ${header.weightsHash}); the loaded model is ${modelId} (weights ${weightsHash.toLowerCase()})`,
      );
    }
  }
  let p = HEADER_SIZE;
  const z = b.subarray(p, p + header.zLength);
  p += header.zLength;
  const y = b.subarray(p, p + header.yLength);
  p += header.yLength;
  const alpha = header.hasAlpha ? b.subarray(p, p + header.alphaLength) : null;
  return { header, z, y, alpha };
}
