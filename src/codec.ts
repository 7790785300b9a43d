/**
 * The public codec: init / encode / decode / probe, shaped like jSquash's codecs (an
 * ImageData-like object in, bytes out; options merged over documented defaults).
 *
 * A thin dispatcher over the two coding profiles (src/profiles/types.ts `Profile`):
 *   decode / probe: the container version at byte 8 picks the profile — 1 amortized
 *                   (src/profiles/amortized/), 2 perimage (src/profiles/perimage/); any other
 *                   is UNSUPPORTED_VERSION;
 *   encode:         `options.profile` picks it (default 'amortized').
 * What is shared lives here or beside it: option validation (src/validate.ts), limits, abort
 * (src/abort.ts), the queue that serialises one codec's work, stats and progress reporting;
 * the container framing and CRC (src/format/), the alpha stream and the pixel code.
 *
 * Resources are made on first use: the WASM core at create; the amortized weights (6.6 MB)
 * and transforms only when a v1 file or an amortized encode needs them (or at once when
 * given, or when init()/NimgCodec.create() preload); the per-image core (another instance
 * of the same module) when a v2 file or a perimage encode needs it. A v2 decode thus needs
 * neither the weights nor tfjs.
 *
 * Platform-neutral: nothing here imports or names a Node module. In Node, the default assets
 * (core WASM, weights) come from src/node/defaults.ts, which the package's `node` entry
 * (src/node/main.ts, nimg/node) registers with setDefaultAssets; browser and worker bundles
 * never reach it. Every failure is a NimgError.
 */
import { NimgError } from './errors.js';
import { SIGNATURE } from './format/container.js';
import { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
import { Abort } from './abort.js';
import { bytesOf, readOptions } from './validate.js';
import { checkThreads } from './backend/threads.js';
import { checkTimeout } from './timeout.js';
import type {
  BackendChoice,
  BackendName,
  DecodedImage,
  DecodeOptions,
  DecodeStats,
  EncodeOptions,
  EncodeProgress,
  EncodeStats,
  ImageLike,
  InitOptions,
  ProbeInfo,
  ProbeOptions,
  ProfileName,
  WeightsSource,
} from './api-types.js';
import { checkImage, now, toNimgError } from './profiles/shared.js';
import type { CodecResources, EncodeJob, PerImageCoreApi, Profile } from './profiles/types.js';
import { AmortizedModel, type FusedCore, type TransformFactoryOptions } from './profiles/amortized/model.js';
import { amortizedProfile } from './profiles/amortized/index.js';
import { checkRefine } from './profiles/amortized/refine-steps.js';
import { perImageProfile } from './profiles/perimage/profile.js';
import { checkEffort } from './profiles/perimage/effort.js';
import { checkPerImageOptions } from './profiles/perimage/encode.js';
import { quantizeQuality } from './format/container.js';

export type * from './api-types.js';
export { MAX_REFINE, refineYSteps } from './profiles/amortized/refine-steps.js';
export { interpolateGain } from './profiles/amortized/gain.js';
export { toNimgError } from './profiles/shared.js';
export { DEFAULT_EFFORT } from './profiles/perimage/effort.js';

/*
 * The declarations name WebAssembly.Module, which TypeScript's DOM and WebWorker libraries
 * define and ES + @types/node do not: a Node project compiled with lib ES20xx alone would
 * fail on our .d.ts (TS2503). This empty declaration merges with the DOM's where it is loaded
 * and, where not, lets the name resolve (as an opaque object type) without a shim.
 */
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Module {}
  }
}

export const DEFAULT_QUALITY = 5;

export const DEFAULT_ENCODE_OPTIONS: Readonly<Required<Pick<EncodeOptions, 'profile' | 'quality' | 'refine' | 'effort'>>> = Object.freeze({
  profile: 'amortized',
  quality: DEFAULT_QUALITY,
  refine: 0,
  effort: 1,
});

const ENCODE_KEYS = ['profile', 'quality', 'refine', 'effort', 'backend', 'limits', 'stats', 'signal', 'timeoutMs', 'onProgress'] as const;
const DECODE_KEYS = ['backend', 'limits', 'stats', 'signal', 'timeoutMs'] as const;
const INIT_KEYS = ['wasm', 'weights', 'backend', 'limits', 'wasmPaths', 'tfjsWasmModule', 'threads', 'tileSize', 'workerUrl', 'timeoutMs', 'core'] as const;

/** The profiles, by the name `options.profile` gives and by the container version. */
const PROFILES: Readonly<Record<ProfileName, Profile<unknown>>> = Object.freeze({
  amortized: amortizedProfile as Profile<unknown>,
  perimage: perImageProfile as Profile<unknown>,
});

/**
 * The profile of a file, from its container version (byte 8). Anything that is not a
 * complete version-2 signature and version goes to the v1 reader, whose checks report it in
 * FORMAT.md §4's order (TRUNCATED, BAD_SIGNATURE, UNSUPPORTED_VERSION for versions ≥ 3).
 */
function profileOfFile(b: Uint8Array): Profile<unknown> {
  if (b.length < 9 || b[8] !== perImageProfile.version) return PROFILES.amortized;
  for (let i = 0; i < 8; i++) if (b[i] !== SIGNATURE[i]) return PROFILES.amortized;
  return PROFILES.perimage;
}

function checkProfile(v: unknown): ProfileName {
  if (v === undefined) return 'amortized';
  if (v !== 'amortized' && v !== 'perimage') throw new NimgError('BAD_INPUT', `profile must be 'amortized' or 'perimage', got ${JSON.stringify(v)}`);
  return v;
}

/** `stats` must be an object to fill, when given. */
function checkStats(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object') throw new NimgError('BAD_INPUT', 'options.stats must be an object to fill');
  return v as Record<string, unknown>;
}

function checkProgress(v: unknown): ((p: EncodeProgress) => void) | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw new NimgError('BAD_INPUT', 'options.onProgress must be a function');
  return v as (p: EncodeProgress) => void;
}

const BACKENDS: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];

function checkBackend(b: unknown): BackendChoice {
  if (b === undefined) return 'auto';
  if (typeof b !== 'string' || !BACKENDS.includes(b as BackendChoice)) {
    throw new NimgError('BAD_INPUT', `backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(b)}`);
  }
  return b as BackendChoice;
}

/** Serialises the operations of one codec (one WASM core, one tfjs engine). */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const p = this.tail.then(f, f);
    this.tail = p.catch(() => {});
    return p;
  }
}

/** Where init() finds the core and weights it was not given: registered by the Node entry. */
export interface DefaultAssets {
  loadCoreWasm(): Promise<WebAssembly.Module | ArrayBuffer | ArrayBufferView>;
  loadWeights(): Promise<WeightsSource>;
}

let defaultAssets: DefaultAssets | null = null;

/**
 * Register (or clear, with null) the default asset loader. src/node/defaults.ts does this on
 * import in Node; this module itself never reads files, so bundles for browsers and edge
 * workers hold no Node code.
 */
export function setDefaultAssets(loader: DefaultAssets | null): void {
  defaultAssets = loader;
}

const NO_WEIGHTS =
  'this codec has no weights: amortized (version 1) files and encodes need the weight set (init({ wasm, weights: { manifest, bin } }); ' +
  "Node reads the package's); perimage (version 2) files decode without it";

/**
 * A codec: the WASM core, and what each profile builds on it when first needed (the
 * module-level functions init/encode/decode use a default instance; create more with
 * `NimgCodec.create`).
 */
export class NimgCodec implements CodecResources {
  private model: AmortizedModel | null = null;
  private modelLoad: Promise<AmortizedModel> | null = null;
  private piCore: Promise<PerImageCoreApi> | null = null;
  private readonly queue = new Queue();
  private disposed = false;

  private constructor(
    private readonly core: FusedCore,
    /** where the weights come from when first needed (null: none; set when loaded) */
    private weightsSource: (() => Promise<WeightsSource>) | null,
    /** the core module (or its bytes), for the per-image core's own instance */
    private readonly coreSource: () => Promise<WebAssembly.Module | ArrayBuffer | ArrayBufferView | undefined>,
    public limits: Limits,
    public defaultBackend: BackendChoice,
    private readonly tfOpts: TransformFactoryOptions,
  ) {}

  /**
   * Load the core, the weights and the default backend. Without `weights`, Node's default
   * weights are loaded too; where there are none (browsers, edge workers), the codec has no
   * weights: it decodes and encodes the perimage profile only.
   */
  static create(opts: InitOptions = {}): Promise<NimgCodec> {
    return NimgCodec.make(opts, true);
  }

  /**
   * As create, but the default weights (Node) are loaded only when a version-1 file or an
   * amortized encode first needs them, and no backend is prepared: a codec that only ever
   * decodes version-2 files never reads the 6.6 MB of weights nor starts tfjs.
   */
  static createLazy(opts: InitOptions = {}): Promise<NimgCodec> {
    return NimgCodec.make(opts, false);
  }

  private static async make(opts: InitOptions, preload: boolean): Promise<NimgCodec> {
    let options: InitOptions, backend: BackendChoice, limits: Limits;
    try {
      options = readOptions(opts, 'init options', INIT_KEYS) as InitOptions;
      backend = checkBackend(options.backend);
      limits = resolveLimits(options.limits);
      checkThreads(options.threads);
    } catch (e) {
      return Promise.reject(toNimgError(e, 'init'));
    }
    try {
      const loader = defaultAssets;
      let wasm = options.wasm;
      let core: FusedCore | undefined = options.core;
      if (!core) {
        if (wasm === undefined) {
          if (!loader) {
            throw new NimgError(
              'NOT_INITIALIZED',
              'no default assets here: call init({ wasm }) with the nimg core module first (and weights: { manifest, bin } for the amortized profile; Node gets both from the package entry under the "node" condition, or from nimg/node)',
            );
          }
          wasm = await loader.loadCoreWasm();
        }
        const { createCore } = await import('./core/index.js');
        core = await createCore(wasm);
      }
      const given = options.weights;
      const weightsSource = given !== undefined ? () => Promise.resolve(given) : loader ? () => loader.loadWeights() : null;
      const coreModule = (core as FusedCore).module;
      const coreSource = async () => coreModule ?? wasm ?? (loader ? await loader.loadCoreWasm() : undefined);
      const codec = new NimgCodec(core, weightsSource, coreSource, limits, backend, {
        wasmPaths: options.wasmPaths,
        tfjsWasmModule: options.tfjsWasmModule,
        threads: options.threads,
        tileSize: options.tileSize,
        workerUrl: options.workerUrl,
        timeoutMs: checkTimeout(options.timeoutMs, 'timeoutMs'),
      });
      // weights given are checked now (a bad set fails init, not the first encode)
      if (given !== undefined) await codec.amortized();
      if (preload && weightsSource) await codec.prepare(backend);
      return codec;
    } catch (e) {
      throw toNimgError(e, 'init');
    }
  }

  // ------------------------------------------------------------------ resources

  /** Whether the amortized weights are loaded (a v2-only codec never loads them). */
  get hasWeights(): boolean {
    return this.model !== null;
  }

  /** CodecResources: the amortized model, loading the weights on first use. */
  amortized(): Promise<AmortizedModel> {
    if (this.disposed) return Promise.reject(new NimgError('NOT_INITIALIZED', 'this codec was disposed'));
    if (this.model) return Promise.resolve(this.model);
    const source = this.weightsSource;
    if (!source) return Promise.reject(new NimgError('NOT_INITIALIZED', NO_WEIGHTS));
    this.modelLoad ??= (async () => {
      const m = await AmortizedModel.load(this.core, await source(), this.tfOpts);
      this.model = m;
      return m;
    })();
    const p = this.modelLoad;
    // a failed load (missing files) is retried by the next call
    p.catch(() => {
      if (this.modelLoad === p) this.modelLoad = null;
    });
    return p;
  }

  loadedAmortized(): AmortizedModel | null {
    return this.model;
  }

  /** CodecResources: the per-image core, its own instance of the core module. */
  perImageCore(): Promise<PerImageCoreApi> {
    if (this.disposed) return Promise.reject(new NimgError('NOT_INITIALIZED', 'this codec was disposed'));
    this.piCore ??= (async () => {
      const { createPerImageCore } = await import('./profiles/perimage/core.js');
      const src = await this.coreSource();
      return createPerImageCore(src as Parameters<typeof createPerImageCore>[0]);
    })();
    const p = this.piCore;
    p.catch(() => {
      if (this.piCore === p) this.piCore = null;
    });
    return p;
  }

  /** The loaded model, or NOT_INITIALIZED (the amortized fields below need it). */
  private loaded(): AmortizedModel {
    if (!this.model) throw new NimgError('NOT_INITIALIZED', this.weightsSource ? 'the weights are not loaded yet: await codec.prepare() first' : NO_WEIGHTS);
    return this.model;
  }

  get weights(): AmortizedModel['weights'] {
    return this.loaded().weights;
  }
  get modelId(): string {
    return this.loaded().modelId;
  }
  get weightsHash(): string {
    return this.loaded().weightsHash;
  }
  get levels(): number {
    return this.loaded().levels;
  }
  get M(): number {
    return this.loaded().M;
  }
  get Nz(): number {
    return this.loaded().Nz;
  }
  get stride(): number {
    return this.loaded().stride;
  }

  /** The amortized model's training lambda at a quality (see AmortizedModel.lambdaAt). */
  lambdaAt(q: number): number {
    return this.loaded().lambdaAt(q);
  }

  /**
   * Load the weights (if not yet) and the transforms of a backend (default: the codec's);
   * resolves to the backend they run on. NOT_INITIALIZED on a codec without weights.
   */
  async prepare(choice: BackendChoice = this.defaultBackend): Promise<BackendName> {
    const m = await this.amortized();
    return (await m.transformsFor(choice)).backend;
  }

  /** The transforms of a backend, created on first use (loads the weights if needed). */
  async transformsFor(choice: BackendChoice = this.defaultBackend): Promise<import('./model/types.js').Transforms> {
    return (await this.amortized()).transformsFor(choice);
  }

  private callLimits(user?: Partial<Limits>): Limits {
    return user === undefined ? this.limits : resolveLimits(user, this.limits);
  }

  // ------------------------------------------------------------------ encode

  /** Encode an RGBA (or RGB) image. */
  encode(image: ImageLike, options: EncodeOptions = {}): Promise<Uint8Array> {
    return this.encodeWithStats(image, options).then((r) => r.bytes);
  }

  async encodeWithStats(image: ImageLike, opts: EncodeOptions = {}): Promise<{ bytes: Uint8Array; stats: EncodeStats }> {
    const t0 = now();
    let job: EncodeJob, profile: Profile<unknown>, options: EncodeOptions;
    try {
      options = readOptions(opts, 'encode options', ENCODE_KEYS) as EncodeOptions;
      checkStats(options.stats);
      const onProgress = checkProgress(options.onProgress);
      const name = checkProfile(options.profile);
      const abort = Abort.from(options.signal, options.timeoutMs, 'encode');
      const img = checkImage(image, this.callLimits(options.limits));
      const refine = checkRefine(options.refine);
      if (name === 'perimage') checkPerImageOptions(refine);
      else if (options.effort !== undefined) throw new NimgError('BAD_INPUT', "effort is the perimage profile's option; the amortized profile's effort is refine");
      const effort = checkEffort(options.effort);
      const quality = quantizeQuality(options.quality ?? DEFAULT_QUALITY);
      const backend = options.backend === undefined ? this.defaultBackend : checkBackend(options.backend);
      const report = (stage: EncodeProgress['stage'], done: number, total: number) => {
        try {
          onProgress?.({ stage, done, total });
        } catch {
          /* ignored: see EncodeOptions.onProgress */
        }
      };
      profile = PROFILES[name];
      job = { image: img, quality, refine, effort, backend, abort, report, t0 };
    } catch (e) {
      throw toNimgError(e, 'encode');
    }
    const run = this.queue.run(async () => {
      try {
        job.abort?.check('the start of the encode');
        const r = await profile.encode(this, job);
        if (options.stats) Object.assign(options.stats, r.stats);
        lastStats.encode = r.stats;
        job.report('done', 1, 1);
        return r;
      } catch (e) {
        throw toNimgError(e, 'encode');
      }
    });
    return job.abort ? job.abort.race(run) : run;
  }

  // ------------------------------------------------------------------ decode

  /** Decode a .nimg file (either profile) to RGBA. */
  decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<DecodedImage> {
    return this.decodeWithStats(bytes, options).then((r) => r.image);
  }

  async decodeWithStats(bytes: Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): Promise<{ image: DecodedImage; stats: DecodeStats }> {
    const t0 = now();
    let file: unknown, profile: Profile<unknown>, backend: BackendChoice, options: DecodeOptions, abort: Abort | null;
    try {
      options = readOptions(opts, 'decode options', DECODE_KEYS) as DecodeOptions;
      checkStats(options.stats);
      abort = Abort.from(options.signal, options.timeoutMs, 'decode');
      backend = options.backend === undefined ? this.defaultBackend : checkBackend(options.backend);
      const b = bytesOf(bytes, 'decode');
      profile = profileOfFile(b);
      file = profile.parse(b, this.callLimits(options.limits), this);
    } catch (e) {
      throw toNimgError(e, 'decode');
    }
    const run = this.queue.run(async () => {
      try {
        const r = await profile.decode(this, { file, backend, abort, t0 });
        if (options.stats) Object.assign(options.stats, r.stats);
        lastStats.decode = r.stats;
        return r;
      } catch (e) {
        throw toNimgError(e, 'decode');
      }
    });
    return abort ? abort.race(run) : run;
  }

  /** Header information of a .nimg file (static: needs no model). */
  probe(bytes: Uint8Array | ArrayBuffer, options: ProbeOptions = {}): ProbeInfo {
    let o: ProbeOptions;
    try {
      o = readOptions(options, 'probe options', ['limits', 'headerOnly'] as const) as ProbeOptions;
    } catch (e) {
      throw toNimgError(e, 'probe');
    }
    return probe(bytes, { ...o, limits: resolveLimits(o.limits, this.limits) });
  }

  /** Release the transforms (GPU buffers, worker threads). */
  dispose(): void {
    this.disposed = true;
    this.model?.dispose();
    this.modelLoad?.then((m) => m.dispose(), () => {});
  }
}

// ------------------------------------------------------------------------ module-level API

let defaultCodec: Promise<NimgCodec> | null = null;
const lastStats: { encode?: EncodeStats; decode?: DecodeStats } = {};

/**
 * Load the WASM core, the weights and the backend (idempotent). A later call with `wasm` or
 * `weights` replaces the model; with only `backend`, it prepares that backend too and makes
 * it the default; with `limits`, it replaces the limits. Resolves to the backend in use.
 * Without weights (none given, no Node defaults) the codec decodes and encodes the perimage
 * profile only, in the core: resolves to 'wasm' and starts no tfjs backend.
 */
export async function init(options: InitOptions = {}): Promise<BackendName> {
  let opts: InitOptions;
  try {
    opts = readOptions(options, 'init options', INIT_KEYS) as InitOptions;
    if (opts.limits !== undefined) resolveLimits(opts.limits);
    checkThreads(opts.threads);
  } catch (e) {
    throw toNimgError(e, 'init');
  }
  if (defaultCodec && opts.wasm === undefined && opts.weights === undefined && opts.core === undefined) {
    const codec = await defaultCodec;
    if (opts.limits !== undefined) codec.limits = resolveLimits(opts.limits);
    if (opts.backend !== undefined) {
      const b = checkBackend(opts.backend);
      const name = await codec.prepare(b).catch((e) => Promise.reject(toNimgError(e, 'init')));
      codec.defaultBackend = b;
      return name;
    }
    return preparedBackend(codec);
  }
  const previous = defaultCodec;
  const p = NimgCodec.create(opts);
  defaultCodec = p;
  try {
    const codec = await p;
    if (previous) previous.then((c) => c.dispose(), () => {});
    return await preparedBackend(codec);
  } catch (e) {
    if (defaultCodec === p) defaultCodec = previous;
    throw e;
  }
}

/** The default backend's name once prepared; 'wasm' (the core) for a codec without weights. */
async function preparedBackend(codec: NimgCodec): Promise<BackendName> {
  try {
    return await codec.prepare();
  } catch (e) {
    if (!codec.hasWeights && e instanceof NimgError && e.code === 'NOT_INITIALIZED' && e.message === NO_WEIGHTS) return 'wasm';
    throw toNimgError(e, 'init');
  }
}

/**
 * The default codec. Without an init() first, one is made from the defaults (Node) lazily:
 * the weights are read only when a version-1 file or an amortized encode needs them.
 */
export async function getCodec(): Promise<NimgCodec> {
  if (!defaultCodec) {
    const p = NimgCodec.createLazy();
    defaultCodec = p;
    p.catch(() => {
      if (defaultCodec === p) defaultCodec = null;
    });
  }
  return defaultCodec;
}

/** Encode an ImageData-like RGBA image to .nimg bytes. */
export async function encode(image: ImageLike, options: EncodeOptions = {}): Promise<Uint8Array> {
  return (await getCodec()).encode(image, options);
}

/** Encode and return the stage timings. */
export async function encodeWithStats(image: ImageLike, options: EncodeOptions = {}): Promise<{ bytes: Uint8Array; stats: EncodeStats }> {
  return (await getCodec()).encodeWithStats(image, options);
}

/** Decode .nimg bytes to an ImageData-like RGBA image. */
export async function decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<DecodedImage> {
  return (await getCodec()).decode(bytes, options);
}

/** Decode and return the stage timings. */
export async function decodeWithStats(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<{ image: DecodedImage; stats: DecodeStats }> {
  return (await getCodec()).decodeWithStats(bytes, options);
}

/** Stage timings of the last encode and decode of this module (any codec instance). */
export function lastTimings(): { encode?: EncodeStats; decode?: DecodeStats } {
  return { encode: lastStats.encode && { ...lastStats.encode }, decode: lastStats.decode && { ...lastStats.decode } };
}

/**
 * Header information of a .nimg file of either profile, synchronously and without a model:
 * validates the header and (unless `headerOnly`) the payload length and CRC. Throws NimgError.
 */
export function probe(bytes: Uint8Array | ArrayBuffer, opts: ProbeOptions = {}): ProbeInfo {
  try {
    const options = readOptions(opts, 'probe options', ['limits', 'headerOnly'] as const) as ProbeOptions;
    const limits = options.limits === undefined ? DEFAULT_LIMITS : resolveLimits(options.limits);
    const b = bytesOf(bytes, 'probe');
    return profileOfFile(b).probe(b, { limits, headerOnly: !!options.headerOnly });
  } catch (e) {
    throw toNimgError(e, 'probe');
  }
}

/** Release the default codec (its transforms, GPU buffers and worker threads). */
export async function dispose(): Promise<void> {
  const p = defaultCodec;
  defaultCodec = null;
  if (p) (await p.catch(() => null))?.dispose();
}
