/**
 * The one interface both coding profiles implement (issue 16, point 7). The dispatcher
 * (src/codec.ts) validates the caller's options, picks a profile — on decode by the
 * container version in the header, on encode by `options.profile` — and runs the profile's
 * steps in its queue; the profile owns its pipeline, its container version and its probe.
 *
 *   amortized  container v1  src/profiles/amortized/  one trained network, weights needed
 *   perimage   container v2  src/profiles/perimage/   the decoder learnt per image, in the file
 */
import type { Abort } from '../abort.js';
import type { Limits } from '../limits.js';
import type { BackendChoice, DecodedImage, DecodeStats, EncodeProgress, EncodeStats, ProbeInfo, ProfileName } from '../api-types.js';
import type { CheckedImage } from './shared.js';
import type { AmortizedModel } from './amortized/model.js';
import type { LatentGrids, PerImageParams } from './perimage/types.js';

/**
 * What the codec uses of the per-image core (src/profiles/perimage/core.ts PerImageCore),
 * structurally: the package's declarations then name no WebAssembly types beyond Module,
 * which a strict consumer without the DOM library cannot resolve.
 */
export interface PerImageCoreApi {
  encodeParams(params: PerImageParams): Uint8Array;
  encodeLatents(params: PerImageParams, grids: LatentGrids, width: number, height: number): Uint8Array;
  decodeParams(bytes: Uint8Array): PerImageParams;
  decodeFileParams(file: { header: { fineScales: boolean }; params: Uint8Array }): PerImageParams;
  decodeLatents(params: PerImageParams, bytes: Uint8Array, width: number, height: number): LatentGrids;
  synthesize(params: PerImageParams, grids: LatentGrids, width: number, height: number): Uint8ClampedArray;
}

/** What a codec instance lends a profile: its resources, each made on first use. */
export interface CodecResources {
  /** the amortized model (weights, transforms); NOT_INITIALIZED when the codec has no weights */
  amortized(): Promise<AmortizedModel>;
  /** the amortized model if it is already loaded (synchronous checks), else null */
  loadedAmortized(): AmortizedModel | null;
  /** the per-image core: an instance of the same nimg-core module, with its own memory */
  perImageCore(): Promise<PerImageCoreApi>;
}

/** One encode, its options checked by the dispatcher. */
export interface EncodeJob {
  image: CheckedImage;
  /** a multiple of 1/256 in [1, 8] */
  quality: number;
  /** amortized: refinement steps (0 … MAX_REFINE) */
  refine: number;
  /** perimage: share of the default optimisation steps, in (0, 1] */
  effort: number;
  backend: BackendChoice;
  abort: Abort | null;
  report: (stage: EncodeProgress['stage'], done: number, total: number) => void;
  /** when the call began (performance.now()): totalMs and preMs count from it */
  t0: number;
}

/** One decode of a file the profile's `parse` accepted. */
export interface DecodeJob<F> {
  file: F;
  backend: BackendChoice;
  abort: Abort | null;
  t0: number;
}

export interface Profile<F> {
  readonly name: ProfileName;
  /** the container version its files carry at byte 8 */
  readonly version: number;
  /**
   * Synchronous checks of a whole file (header, limits, lengths, CRCs) before the work is
   * queued; returns the sections copied, so that the caller may change its buffer meanwhile.
   */
  parse(bytes: Uint8Array, limits: Limits, res: CodecResources): F;
  encode(res: CodecResources, job: EncodeJob): Promise<{ bytes: Uint8Array; stats: EncodeStats }>;
  decode(res: CodecResources, job: DecodeJob<F>): Promise<{ image: DecodedImage; stats: DecodeStats }>;
  /** header information, without a model or a core */
  probe(bytes: Uint8Array, opts: { limits: Limits; headerOnly: boolean }): ProbeInfo;
}
