/**
 * The .nimg container, version 2 (per-image profile; SPEC.md §3). Same signature, flags and CRC
 * rules as version 1 (FORMAT.md §2), a 48-byte header:
 *
 *   offset size  field
 *    0      8    signature  4E 49 4D 47 0D 0A 87 0A
 *    8      1    version    2
 *    9      1    required flags (bit 0: alpha stream; bit 1: FINE_SCALES, the latent stream's
 *                  scale set reaches log2 b = −5); any other bit set → UNSUPPORTED_VERSION
 *   10      1    optional flags (none defined; readers ignore unknown bits)
 *   11      1    reserved, 0
 *   12      4    width,  u32 LE, >= 1
 *   16      4    height, u32 LE, >= 1
 *   20      2    quality, u16 LE, q × 256, 256..2048
 *   22      2    reserved, 0
 *   24      4    params section length, u32 LE (>= 1)
 *   28      4    latent stream length, u32 LE (>= 8)
 *   32      4    alpha stream length, u32 LE (0 unless the alpha flag is set, then >= 1)
 *   36      4    reserved, 0
 *   40      4    payload CRC-32 (params ‖ latents ‖ alpha)
 *   44      4    header CRC-32 of bytes 0..43
 *   48           payload: params section, latent stream, alpha stream; nothing after it
 *
 * Reading performs the checks of FORMAT.md §4 in its order (version 2, header size 48). Every
 * function here throws only NimgError.
 */
import { NimgError } from '../../errors.js';
import { crc32, crc32Update } from '../../format/crc32.js';
import { asBytes, sealContainer } from '../../format/container.js';
import { DEFAULT_LIMITS, checkDimensions, type Limits } from '../../limits.js';

export const SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(0x4e, 0x49, 0x4d, 0x47, 0x0d, 0x0a, 0x87, 0x0a);
export const PERIMAGE_VERSION = 2;
export const PERIMAGE_HEADER_SIZE = 48;
export const FLAG_ALPHA = 0x01;
/** the latent stream codes with the full scale set (SPEC §1 "Table choice"), not the base set */
export const FLAG_FINE_SCALES = 0x02;
const KNOWN_REQUIRED_FLAGS = FLAG_ALPHA | FLAG_FINE_SCALES;
const QUALITY_SCALE = 256;

export interface PerImageHeader {
  version: number;
  requiredFlags: number;
  optionalFlags: number;
  hasAlpha: boolean;
  /** required flag FINE_SCALES: decode the latent stream with the full scale set */
  fineScales: boolean;
  width: number;
  height: number;
  /** a multiple of 1/256 in [1, 8] */
  quality: number;
  paramsLength: number;
  latentLength: number;
  alphaLength: number;
  payloadCrc: number;
  headerCrc: number;
  /** PERIMAGE_HEADER_SIZE + the three lengths */
  fileLength: number;
}

export interface PerImageFile {
  header: PerImageHeader;
  params: Uint8Array;
  latents: Uint8Array;
  /** null when the image is opaque */
  alpha: Uint8Array | null;
}

export interface PerImageWriteFields {
  width: number;
  height: number;
  /** in [1, 8]; stored as round(q × 256) */
  quality: number;
  params: Uint8Array;
  latents: Uint8Array;
  alpha: Uint8Array | null;
  /** the latent stream was coded with the full scale set (sets FINE_SCALES); default false */
  fineScales?: boolean;
}

function u32ok(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Serialise a version-2 file. BAD_INPUT on fields the format cannot carry. */
export function writePerImageContainer(f: PerImageWriteFields): Uint8Array {
  if (!u32ok(f.width) || !u32ok(f.height) || f.width < 1 || f.height < 1) {
    throw new NimgError('BAD_INPUT', `width and height must be integers in [1, 2^32-1], got ${String(f.width)}x${String(f.height)}`);
  }
  if (typeof f.quality !== 'number' || !Number.isFinite(f.quality) || f.quality < 1 || f.quality > 8) {
    throw new NimgError('BAD_INPUT', `quality must be a number in [1, 8], got ${String(f.quality)}`);
  }
  if (!(f.params instanceof Uint8Array) || !(f.latents instanceof Uint8Array) || (f.alpha !== null && !(f.alpha instanceof Uint8Array))) {
    throw new NimgError('BAD_INPUT', 'sections must be Uint8Arrays');
  }
  if (f.params.length === 0 || f.latents.length < 8) throw new NimgError('BAD_INPUT', 'the params section is not empty and the latent stream has at least 8 bytes');
  if (f.alpha !== null && f.alpha.length === 0) throw new NimgError('BAD_INPUT', 'an alpha stream, when present, is not empty');
  const aLen = f.alpha ? f.alpha.length : 0;
  const total = PERIMAGE_HEADER_SIZE + f.params.length + f.latents.length + aLen;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  out[8] = PERIMAGE_VERSION;
  out[9] = (f.alpha ? FLAG_ALPHA : 0) | (f.fineScales === true ? FLAG_FINE_SCALES : 0);
  dv.setUint32(12, f.width, true);
  dv.setUint32(16, f.height, true);
  dv.setUint16(20, Math.round(f.quality * QUALITY_SCALE), true);
  dv.setUint32(24, f.params.length, true);
  dv.setUint32(28, f.latents.length, true);
  dv.setUint32(32, aLen, true);
  return sealContainer(out, PERIMAGE_HEADER_SIZE, [f.params, f.latents, f.alpha], 40);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/**
 * Parse and check the 48-byte header (the payload may be absent), in the order of FORMAT.md
 * §4: empty → TRUNCATED; signature → BAD_SIGNATURE; < 9 bytes → TRUNCATED; version → 
 * UNSUPPORTED_VERSION; < 48 bytes → TRUNCATED; header CRC → CHECKSUM_MISMATCH; unknown
 * required flag → UNSUPPORTED_VERSION; field values → CORRUPT_STREAM; limits → LIMIT_EXCEEDED.
 */
export function parsePerImageHeader(input: Uint8Array | ArrayBuffer | ArrayBufferView, opts: { limits?: Readonly<Limits> } = {}): PerImageHeader {
  const b = asBytes(input);
  if (b.length === 0) throw new NimgError('TRUNCATED', 'empty input: not a .nimg file');
  const n = Math.min(b.length, 8);
  for (let i = 0; i < n; i++) if (b[i] !== SIGNATURE[i]) throw new NimgError('BAD_SIGNATURE', 'not a .nimg file (signature mismatch)');
  if (b.length < 9) throw new NimgError('TRUNCATED', `.nimg file truncated at ${b.length} bytes, inside the header`);
  if (b[8] !== PERIMAGE_VERSION) throw new NimgError('UNSUPPORTED_VERSION', `.nimg container version ${b[8]}; this reader is for version ${PERIMAGE_VERSION}`);
  if (b.length < PERIMAGE_HEADER_SIZE) throw new NimgError('TRUNCATED', `.nimg file truncated at ${b.length} bytes, inside the ${PERIMAGE_HEADER_SIZE}-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, PERIMAGE_HEADER_SIZE);
  const headerCrc = dv.getUint32(44, true);
  const actual = crc32(b, 0, 44);
  if (actual !== headerCrc) throw new NimgError('CHECKSUM_MISMATCH', `.nimg header CRC-32 mismatch (stored ${hex8(headerCrc)}, computed ${hex8(actual)})`);
  const requiredFlags = b[9];
  if (requiredFlags & ~KNOWN_REQUIRED_FLAGS) {
    throw new NimgError('UNSUPPORTED_VERSION', `.nimg file needs features this reader does not support (required flags 0x${(requiredFlags & ~KNOWN_REQUIRED_FLAGS).toString(16)})`);
  }
  const width = dv.getUint32(12, true);
  const height = dv.getUint32(16, true);
  if (width === 0 || height === 0) throw new NimgError('CORRUPT_STREAM', `.nimg header has an empty image (${width}x${height})`);
  const qFixed = dv.getUint16(20, true);
  if (qFixed < QUALITY_SCALE || qFixed > 8 * QUALITY_SCALE) throw new NimgError('CORRUPT_STREAM', `.nimg quality field ${qFixed}/256 is outside [1, 8]`);
  const paramsLength = dv.getUint32(24, true);
  const latentLength = dv.getUint32(28, true);
  const alphaLength = dv.getUint32(32, true);
  if (paramsLength === 0 || latentLength < 8) throw new NimgError('CORRUPT_STREAM', `.nimg params section (${paramsLength} bytes) or latent stream (${latentLength} bytes) too short to be valid`);
  const hasAlpha = (requiredFlags & FLAG_ALPHA) !== 0;
  if (hasAlpha !== alphaLength > 0) throw new NimgError('CORRUPT_STREAM', `.nimg alpha flag (${hasAlpha ? 'set' : 'clear'}) disagrees with the alpha stream length ${alphaLength}`);
  const limits = opts.limits ?? DEFAULT_LIMITS;
  checkDimensions(width, height, limits, '.nimg image');
  const fileLength = PERIMAGE_HEADER_SIZE + paramsLength + latentLength + alphaLength;
  if (fileLength > limits.maxFileBytes) throw new NimgError('LIMIT_EXCEEDED', `.nimg file declares ${fileLength} bytes; the limit is ${limits.maxFileBytes} (limits.maxFileBytes)`);
  return {
    version: b[8],
    requiredFlags,
    optionalFlags: b[10],
    hasAlpha,
    fineScales: (requiredFlags & FLAG_FINE_SCALES) !== 0,
    width,
    height,
    quality: qFixed / QUALITY_SCALE,
    paramsLength,
    latentLength,
    alphaLength,
    payloadCrc: dv.getUint32(40, true),
    headerCrc,
    fileLength,
  };
}

/**
 * Parse a whole version-2 file: header, then length (TRUNCATED if short, CORRUPT_STREAM on
 * trailing bytes), then payload CRC (CHECKSUM_MISMATCH). Sections are views into the input.
 */
export function parsePerImageContainer(input: Uint8Array | ArrayBuffer | ArrayBufferView, opts: { limits?: Readonly<Limits> } = {}): PerImageFile {
  const b = asBytes(input);
  const header = parsePerImageHeader(b, opts);
  if (b.length < header.fileLength) throw new NimgError('TRUNCATED', `.nimg file truncated: ${b.length} of ${header.fileLength} bytes`);
  if (b.length > header.fileLength) throw new NimgError('CORRUPT_STREAM', `.nimg file has ${b.length - header.fileLength} bytes of trailing data after its payload`);
  const pcrc = crc32Update(0, b, PERIMAGE_HEADER_SIZE, header.fileLength);
  if (pcrc !== header.payloadCrc) throw new NimgError('CHECKSUM_MISMATCH', `.nimg payload CRC-32 mismatch (stored ${hex8(header.payloadCrc)}, computed ${hex8(pcrc)})`);
  let p = PERIMAGE_HEADER_SIZE;
  const params = b.subarray(p, (p += header.paramsLength));
  const latents = b.subarray(p, (p += header.latentLength));
  const alpha = header.hasAlpha ? b.subarray(p, p + header.alphaLength) : null;
  return { header, params, latents, alpha };
}
