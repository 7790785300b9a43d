/**
 * Profile 2, "perimage" (container v2, FORMAT.md §9): the file carries its own small decoder
 * (latent grids, an integer context model, an upsampler, a synthesis network), learnt for
 * the image by gradient steps at encode time.
 */
import type { PerImageProbeInfo } from '../../api-types.js';
import type { Profile } from '../types.js';
import { PERIMAGE_HEADER_SIZE, PERIMAGE_VERSION, parsePerImageContainer, parsePerImageHeader, type PerImageHeader } from './container.js';
import { archInfo, readArch } from './arch-info.js';
import { decodePerImageFile, type PerImageFileCopy } from './decode.js';
import { encodePerImageFile } from './encode.js';

function perImageInfo(h: PerImageHeader, params: Uint8Array | null): PerImageProbeInfo {
  return {
    format: 'nimg',
    version: h.version,
    profile: 'perimage',
    width: h.width,
    height: h.height,
    quality: h.quality,
    hasAlpha: h.hasAlpha,
    bytes: { total: h.fileLength, header: PERIMAGE_HEADER_SIZE, params: h.paramsLength, latents: h.latentLength, alpha: h.alphaLength },
    scales: h.fineScales ? 'fine' : 'base',
    bpp: (h.fileLength * 8) / (h.width * h.height),
    ...(params ? { arch: archInfo(readArch(params)) } : {}),
  };
}

export const perImageProfile: Profile<PerImageFileCopy> = {
  name: 'perimage',
  version: PERIMAGE_VERSION,

  parse(bytes, limits) {
    const f = parsePerImageContainer(bytes, { limits });
    // decoded later, from the queue: copies, as the amortized profile does
    return { header: f.header, params: f.params.slice(), latents: f.latents.slice(), alpha: f.alpha && f.alpha.slice() };
  },

  encode: encodePerImageFile,
  decode: decodePerImageFile,

  probe(bytes, { limits, headerOnly }) {
    if (headerOnly) return perImageInfo(parsePerImageHeader(bytes, { limits }), null);
    const f = parsePerImageContainer(bytes, { limits });
    return perImageInfo(f.header, f.params);
  },
};
