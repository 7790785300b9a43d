/**
 * The float transforms (g_a, h_a, g_s) on tfjs, tiled, on the chosen backend; on WASM,
 * tiles optionally run in parallel worker threads. Planar [C, H, W] Float32Arrays at the
 * boundary, NHWC inside.
 */
import { NimgError, isNimgError } from '../errors.js';
import { activateBackend, defaultTileSize, hardwareConcurrency, initBackend, isNode, type BackendOptions } from '../backend/index.js';
import type { TilePool } from '../backend/pool.js';
import { checkThreads, resolveThreads } from '../backend/threads.js';
import { TfNet, opGeometry, prepareNet, runAnalysisHyperPlanar, runAnalysisHyperRgba, runPlanar, runSynthesisRgba, runTile, type NetOp, type PreparedNet } from './net.js';
import { byteToUnitTable } from './gpu-kernels.js';
import { coarseScale, extractNHWC, haloSides, placeNHWC, planTiles } from './tiling.js';
import type { BackendChoice, BackendName, ModelWeights, Transforms } from './types.js';
import type { RefineInput, RefineResult, RefineSettings } from './refine.js';
import type { JointInput, JointModel, JointResult } from './refine-z.js';
import type { AbortCheck } from '../abort.js';

export interface TransformOptions extends BackendOptions {
  backend?: BackendChoice;
  /**
   * Tile core size in image pixels (rounded down to a multiple of 64, min 64); default per
   * backend (defaultTileSize). `Infinity` disables tiling.
   */
  tileSize?: number;
  /**
   * Worker threads for tiles on the WASM backend (default: hardware concurrency, capped
   * at 8 in Node, 4 in browsers; 1 = no workers, everything on the calling thread); an
   * integer from 1 to MAX_THREADS (16), and never more than the cores available
   * (src/backend/threads.ts). Ignored on other backends.
   * Output is identical whatever the count: the tiles do not depend on it.
   */
  threads?: number;
  /** script of the WASM tile workers in browsers (default: wasm-worker.js beside backend/pool.js) */
  workerUrl?: string | URL;
}

export interface TiledTransforms extends Transforms {
  readonly tileSize: number;
  /** threads the tiles run on (1 until the workers are up, or without them) */
  readonly threads: number;
  readonly prepared: PreparedNet;
  /**
   * Resolves when the tile workers (if any) are up. Optional: calls wait for them anyway;
   * awaiting this makes start-up cost visible where the caller wants it. Rejects with
   * BACKEND_UNAVAILABLE if workers asked for by number could not start.
   */
  ready(): Promise<void>;
}


/**
 * A browser page's own thread (not a worker, not Node): here a transform on the calling
 * thread freezes the page for as long as it runs (seconds for a photo on WASM), so tile
 * workers that cannot start are an error, never a quiet fallback, and every tile goes to
 * the workers.
 */
const ON_PAGE_THREAD = !isNode && typeof document !== 'undefined' && typeof window !== 'undefined';

/** The fused WebGPU paths view RGBA bytes as little-endian 32-bit words. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkDims(name: string, data: Float32Array, C: number, h: number, w: number, mult: number): void {
  if (!(data instanceof Float32Array)) throw new NimgError('BAD_INPUT', `${name}: input must be a Float32Array`);
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h % mult || w % mult) {
    throw new NimgError('BAD_INPUT', `${name}: size ${w}x${h} must be positive multiples of ${mult}`);
  }
  if (data.length !== C * h * w) throw new NimgError('BAD_INPUT', `${name}: ${data.length} values, expected ${C}x${h}x${w}`);
}

class TfTransforms implements TiledTransforms {
  private net: TfNet | null;
  constructor(
    readonly backend: BackendName,
    readonly prepared: PreparedNet,
    net: TfNet,
    readonly tileSize: number,
    private poolStart: Promise<TilePool | null> | null,
    private poolRequired: boolean,
  ) {
    this.net = net;
    // Workers boot (~0.3-2 s) in the background while the caller does other work.
    poolStart?.then(
      (p) => {
        if (this.disposed) p?.dispose();
        else this.pool = p;
      },
      (e) => {
        this.poolError = e;
      },
    );
  }

  private pool: TilePool | null = null;
  private poolError: unknown = null;
  private disposed = false;

  get threads(): number {
    return this.pool ? this.pool.size : 1;
  }

  async ready(): Promise<void> {
    if (!this.poolStart) return;
    try {
      await this.poolStart;
    } catch (e) {
      if (this.poolRequired) throw e;
    }
  }

  /** The tiles of an op's input, Hc x Wc in coarse cells (see coarseScale). */
  private planTiles(op: NetOp, Hc: number, Wc: number): ReturnType<typeof planTiles> {
    // tile core in coarse cells: tileSize image px = tileSize/16 latent = tileSize/64 hyper-latent
    const cells = op === 'hyper' ? this.tileSize / 64 : this.tileSize / 16;
    return planTiles(Hc, Wc, Number.isFinite(cells) ? Math.max(1, Math.floor(cells)) : Math.max(Hc, Wc), haloSides(op));
  }

  private async run(op: NetOp, input: Float32Array, H: number, W: number, abort?: AbortCheck): Promise<Float32Array> {
    const net = this.net;
    if (!net) throw new NimgError('NOT_INITIALIZED', 'transforms were disposed');
    const g = opGeometry(this.prepared.arch, op);
    const { sIn, sOut } = coarseScale(op);
    const Hc = H / sIn;
    const Wc = W / sIn;
    const Ho = Hc * sOut;
    const Wo = Wc * sOut;
    const tiles = this.planTiles(op, Hc, Wc);
    const place = (t: (typeof tiles)[number], r: { data: Float32Array; h: number; w: number }) => {
      const eh = (t.ey1 - t.ey0) * sOut;
      const ew = (t.ex1 - t.ex0) * sOut;
      if (r.h !== eh || r.w !== ew) throw new NimgError('INTERNAL', `tile output ${r.w}x${r.h}, expected ${ew}x${eh}`);
      placeNHWC(r.data, r.h, r.w, g.outC, (t.y0 - t.ey0) * sOut, (t.x0 - t.ex0) * sOut, (t.y1 - t.y0) * sOut, (t.x1 - t.x0) * sOut, out, Ho, Wo, t.y0 * sOut, t.x0 * sOut);
    };
    const slice = (t: (typeof tiles)[number]) =>
      extractNHWC(input, g.inC, H, W, t.ey0 * sIn, t.ey1 * sIn, t.ex0 * sIn, t.ex1 * sIn);
    if (this.poolStart && (tiles.length > 1 || ON_PAGE_THREAD)) await this.ready();
    if (this.disposed) throw new NimgError('NOT_INITIALIZED', 'transforms were disposed');
    if (this.backend === 'webgpu' && tiles.length === 1) {
      // One tile = the whole image: layout changes on the GPU, the read-back array is the
      // planar result (no CPU slice/place loops, no extra copy).
      abort?.check(op);
      await activateBackend(this.backend);
      const r = await runPlanar(net, op, input, H, W);
      if (r.length !== g.outC * Ho * Wo) throw new NimgError('INTERNAL', `${op}: ${r.length} values, expected ${g.outC * Ho * Wo}`);
      return r;
    }
    const out = new Float32Array(g.outC * Ho * Wo);
    if (this.pool && (tiles.length > 1 || ON_PAGE_THREAD)) {
      // Each worker pulls the next tile: at most pool.size tiles are sliced / in flight.
      const pool = this.pool;
      let next = 0;
      const lane = async () => {
        while (next < tiles.length) {
          abort?.check(`${op} tile ${next + 1} of ${tiles.length}`);
          const t = tiles[next++];
          place(t, await pool.run(op, slice(t), (t.ey1 - t.ey0) * sIn, (t.ex1 - t.ex0) * sIn));
        }
      };
      await Promise.all(Array.from({ length: Math.min(pool.size, tiles.length) }, lane));
    } else {
      for (const [i, t] of tiles.entries()) {
        abort?.check(`${op} tile ${i + 1} of ${tiles.length}`);
        // tfjs has one global engine: another Transforms may have switched it meanwhile.
        await activateBackend(this.backend);
        place(t, await runTile(net, op, slice(t), (t.ey1 - t.ey0) * sIn, (t.ex1 - t.ex0) * sIn));
      }
    }
    return out;
  }

  analysis(x: Float32Array, H: number, W: number, abort?: AbortCheck): Promise<Float32Array> {
    try {
      checkDims('analysis', x, 3, H, W, 16);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.run('analysis', x, H, W, abort);
  }

  hyperAnalysis(ys: Float32Array, h: number, w: number, abort?: AbortCheck): Promise<Float32Array> {
    try {
      checkDims('hyperAnalysis', ys, this.prepared.arch.M, h, w, 4);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.run('hyper', ys, h, w, abort);
  }

  /** Can g_a + h_a run as one device pass on an H x W (padded) image? */
  private fusedFront(H: number, W: number, gain: Float32Array): boolean {
    const M = this.prepared.arch.M;
    if (!(gain instanceof Float32Array) || gain.length !== M) throw new NimgError('BAD_INPUT', `analysisHyper: gain must be ${M} float32 values`);
    if (this.backend !== 'webgpu' || !this.net || !LITTLE_ENDIAN || H % 64 || W % 64) return false;
    return this.planTiles('analysis', H / 16, W / 16).length === 1 && this.planTiles('hyper', H / 64, W / 64).length === 1;
  }

  /** WebGPU, g_a and h_a each one tile: see Transforms.analysisHyper. */
  async analysisHyper(x: Float32Array, H: number, W: number, gain: Float32Array): Promise<{ ys: Float32Array; z: Float32Array } | undefined> {
    checkDims('analysis', x, 3, H, W, 16);
    if (!this.fusedFront(H, W, gain)) return undefined;
    await activateBackend(this.backend);
    return runAnalysisHyperPlanar(this.net as TfNet, x, H, W, gain);
  }

  private lut: import('@tensorflow/tfjs-core').Tensor | null = null;

  /** WebGPU, g_a and h_a each one tile: see Transforms.analysisHyperRgba. */
  async analysisHyperRgba(
    rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, padW: number, padH: number, gain: Float32Array,
  ): Promise<{ ys: Float32Array; z: Float32Array } | undefined> {
    if (!(rgba instanceof Uint8Array || rgba instanceof Uint8ClampedArray) || rgba.length !== 4 * width * height) {
      throw new NimgError('BAD_INPUT', `analysisHyperRgba: ${width}x${height} needs ${4 * width * height} RGBA bytes`);
    }
    if (!(width >= 1 && height >= 1 && width <= padW && height <= padH)) throw new NimgError('BAD_INPUT', `analysisHyperRgba: ${width}x${height} does not fit ${padW}x${padH}`);
    if (padH % 16 || padW % 16) throw new NimgError('BAD_INPUT', `analysisHyperRgba: padded size ${padW}x${padH} must be multiples of 16`);
    if (!this.fusedFront(padH, padW, gain)) return undefined;
    await activateBackend(this.backend);
    if (!this.lut) {
      const tf = await import('@tensorflow/tfjs-core');
      this.lut = tf.tensor1d(byteToUnitTable());
    }
    return runAnalysisHyperRgba(this.net as TfNet, this.lut, rgba, width, height, padW, padH, gain);
  }

  /** WebGPU, g_s in one tile: see Transforms.synthesisRgba. */
  async synthesisRgba(yhat: Float32Array, h: number, w: number, width: number, height: number): Promise<Uint8ClampedArray | undefined> {
    checkDims('synthesis', yhat, this.prepared.arch.M, h, w, 1);
    if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1 && width <= 16 * w && height <= 16 * h)) {
      throw new NimgError('BAD_INPUT', `synthesisRgba: crop ${width}x${height} outside ${16 * w}x${16 * h}`);
    }
    if (this.backend !== 'webgpu' || !this.net || !LITTLE_ENDIAN) return undefined;
    if (this.planTiles('synthesis', h, w).length !== 1) return undefined;
    await activateBackend(this.backend);
    return runSynthesisRgba(this.net, yhat, h, w, width, height);
  }

  /** Latent refinement on this backend (see src/model/refine.ts). */
  async refine(input: RefineInput, settings?: Partial<RefineSettings>): Promise<RefineResult> {
    if (!this.net) throw new NimgError('NOT_INITIALIZED', 'transforms were disposed');
    await activateBackend(this.backend);
    const { refineLatent } = await import('./refine.js');
    return refineLatent(this.prepared, input, { tile: this.refineTile(), ...settings });
  }

  /** The joint y and z phase of refinement on this backend (see src/model/refine-z.ts). */
  async refineJoint(model: JointModel, input: JointInput, settings?: Partial<RefineSettings>): Promise<JointResult> {
    if (!this.net) throw new NimgError('NOT_INITIALIZED', 'transforms were disposed');
    await activateBackend(this.backend);
    const { refineJoint } = await import('./refine-z.js');
    return refineJoint(this.prepared, model, input, { tile: this.refineTile(), ...settings });
  }

  /** refinement tile in latents: a GPU takes a 1024 px core (one tile for most photos); CPUs keep tiles small */
  private refineTile(): number {
    return this.backend === 'webgpu' ? 64 : 32;
  }

  synthesis(yhat: Float32Array, h: number, w: number, abort?: AbortCheck): Promise<Float32Array> {
    try {
      checkDims('synthesis', yhat, this.prepared.arch.M, h, w, 1);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.run('synthesis', yhat, h, w, abort);
  }

  dispose(): void {
    this.lut?.dispose();
    this.lut = null;
    this.net?.dispose();
    this.net = null;
    this.disposed = true;
    this.pool?.dispose();
    this.pool = null;
  }
}

/**
 * Build the transforms: initialise the backend (BACKEND_UNAVAILABLE if a named one cannot
 * start), upload the weights (MODEL_MISMATCH on missing/mis-shaped tensors), start tile
 * workers on WASM when threads > 1.
 */
export async function createTransforms(weights: ModelWeights, opts: TransformOptions = {}): Promise<TiledTransforms> {
  const prepared = prepareNet(weights);
  let tileSize = opts.tileSize;
  if (tileSize !== undefined && tileSize !== Infinity) {
    if (!(tileSize >= 64)) throw new NimgError('BAD_INPUT', `tileSize ${tileSize} must be >= 64 (or Infinity)`);
    tileSize = Math.floor(tileSize / 64) * 64;
  }
  const requested = checkThreads(opts.threads);
  const backend = await initBackend(opts.backend ?? 'auto', opts);
  const net = new TfNet(prepared, { gpuFused: backend === 'webgpu' });
  let poolStart: Promise<TilePool | null> | null = null;
  if (backend === 'wasm') {
    // capped by the cores (and MAX_THREADS): src/backend/threads.ts says why
    const threads = resolveThreads(requested, await hardwareConcurrency(), isNode);
    if (threads > 1) {
      // Workers asked for by number, or on a page's own thread, must start (else
      // BACKEND_UNAVAILABLE, or TIMEOUT); elsewhere (Node, inside a worker) the default
      // quietly runs single-threaded (same tiles, same output, no page to freeze).
      poolStart = import('../backend/pool.js').then(({ createWasmPool }) =>
        createWasmPool(prepared, threads, { wasmPaths: opts.wasmPaths, workerUrl: opts.workerUrl, timeoutMs: opts.timeoutMs }),
      );
      if (opts.threads === undefined && !ON_PAGE_THREAD) poolStart = poolStart.catch(() => null);
    }
  }
  const required = opts.threads !== undefined || ON_PAGE_THREAD;
  const t = new TfTransforms(backend, prepared, net, tileSize ?? defaultTileSize(backend, prepared.arch.N), poolStart, required);
  if (ON_PAGE_THREAD && poolStart) {
    // Say it at init, not at the first decode after the page has frozen.
    try {
      await t.ready();
    } catch (e) {
      t.dispose();
      const why = e instanceof Error ? e.message : String(e);
      throw new NimgError(
        isNimgError(e) && e.code === 'TIMEOUT' ? 'TIMEOUT' : 'BACKEND_UNAVAILABLE',
        `${why}. On a page's main thread the transforms would block the page for seconds: serve the tile worker ` +
          `(init option workerUrl), decode in a worker (nimg/worker), or pass threads: 1 to run on the main thread anyway`,
        { cause: e },
      );
    }
  }
  return t;
}

