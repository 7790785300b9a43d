/**
 * Profile 1, "amortized" (container v1, FORMAT.md §1–8): one trained mean-scale hyperprior
 * for every image. Encoding is one pass of the network (plus optional refinement); decoding
 * needs the weights the file names (model id and weights hash in its header).
 */
import { NimgError } from '../../errors.js';
import { HEADER_SIZE, CONTAINER_VERSION, latentGeometry, parseContainer, parseHeader, type NimgHeader } from '../../format/container.js';
import type { AmortizedProbeInfo } from '../../api-types.js';
import type { Profile } from '../types.js';
import type { AmortizedModel } from './model.js';
import { decodeAmortized, type AmortizedFile } from './decode.js';
import { encodeAmortized } from './encode.js';

/** MODEL_MISMATCH unless the file was made with the loaded weights (as parseContainer's `expect`). */
export function checkModel(header: NimgHeader, m: AmortizedModel): void {
  if (header.modelId !== m.modelId || header.weightsHash !== m.weightsHash.toLowerCase()) {
    throw new NimgError(
      'MODEL_MISMATCH',
      `.nimg file was made with model ${header.modelId} (weights ${header.weightsHash}); the loaded model is ${m.modelId} (weights ${m.weightsHash.toLowerCase()})`,
    );
  }
}

/** probe() of a v1 header. */
export function amortizedInfo(h: NimgHeader): AmortizedProbeInfo {
  const g = latentGeometry(h.width, h.height);
  return {
    format: 'nimg',
    version: h.version,
    profile: 'amortized',
    width: h.width,
    height: h.height,
    quality: h.quality,
    hasAlpha: h.hasAlpha,
    modelId: h.modelId,
    weightsHash: h.weightsHash,
    bytes: { total: h.fileLength, header: HEADER_SIZE, z: h.zLength, y: h.yLength, alpha: h.alphaLength },
    bpp: (h.fileLength * 8) / (h.width * h.height),
    padded: { width: g.padW, height: g.padH },
    latent: { h: g.h, w: g.w, hz: g.hz, wz: g.wz },
  };
}

export const amortizedProfile: Profile<AmortizedFile> = {
  name: 'amortized',
  version: CONTAINER_VERSION,

  parse(bytes, limits, res) {
    const loaded = res.loadedAmortized();
    const f = parseContainer(bytes, { limits, expect: loaded ? { modelId: loaded.modelId, weightsHash: loaded.weightsHash } : undefined });
    // The streams are decoded later, from the queue: copy what the CRC just checked, so a
    // caller changing (or detaching) its buffer meanwhile changes nothing. The payload is
    // small next to the image it decodes to (≤ limits.maxFileBytes).
    return { header: f.header, z: f.z.slice(), y: f.y.slice(), alpha: f.alpha && f.alpha.slice() };
  },

  async encode(res, job) {
    const m = await res.amortized();
    job.abort?.check('the start of the encode');
    const tf = await m.transformsFor(job.backend);
    return encodeAmortized(m, tf, job);
  },

  async decode(res, job) {
    const m = await res.amortized();
    checkModel(job.file.header, m);
    job.abort?.check('the start of the decode');
    const tf = await m.transformsFor(job.backend);
    return decodeAmortized(m, tf, job);
  },

  probe(bytes, { limits, headerOnly }) {
    return amortizedInfo(headerOnly ? parseHeader(bytes, { limits }) : parseContainer(bytes, { limits }).header);
  },
};
