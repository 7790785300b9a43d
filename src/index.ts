/**
 * nimg — a learned (neural) image codec for the web. Public entry (platform-neutral).
 *
 *   import { init, encode, decode, probe } from 'nimg';
 *   await init();                                   // Node: loads the packaged core + weights
 *   const bytes = await encode(imageData, { quality: 5 });
 *   const { width, height, data } = await decode(bytes);
 *
 * Browsers / edge workers: init({ wasm, weights: { manifest, bin } }) first.
 * Errors: NimgError with a stable `code` (src/errors.ts).
 */
export {
  init,
  encode,
  decode,
  encodeWithStats,
  decodeWithStats,
  probe,
  dispose,
  lastTimings,
  getCodec,
  NimgCodec,
  DEFAULT_QUALITY,
  DEFAULT_ENCODE_OPTIONS,
  DEFAULT_EFFORT,
  MAX_REFINE,
  interpolateGain,
} from './codec.js';
export type {
  InitOptions,
  EncodeOptions,
  EncodeProgress,
  DecodeOptions,
  ProbeOptions,
  ProbeInfo,
  AmortizedProbeInfo,
  PerImageProbeInfo,
  PerImageArchInfo,
  ProfileName,
  EncodeStats,
  DecodeStats,
  HsPlace,
  ImageLike,
  DecodedImage,
  WeightsSource,
  BackendChoice,
  BackendName,
  Limits,
} from './codec.js';
export { DEFAULT_LIMITS } from './limits.js';
export { NIMG_MEDIA_TYPE, NIMG_EXTENSION } from './format/media-type.js';
export { NimgError, isNimgError, type NimgErrorCode } from './errors.js';
export {
  CONTAINER_VERSION,
  HEADER_SIZE,
  SIGNATURE,
  QUALITY_MIN,
  QUALITY_MAX,
  parseContainer,
  parseHeader,
  writeContainer,
  latentGeometry,
  type NimgHeader,
} from './format/container.js';
export { decodeImageFile, decodePng, decodeJpeg, encodePng, type RgbaImage } from './image/index.js';
