/**
 * One loaded amortized model: the weights, the core they are installed in, and what is built
 * from them on demand — the float transforms per backend, the WebGPU h_s, refinement's joint
 * model. Only the amortized profile (container v1) needs any of it: a codec holds one only
 * once a v1 file or a v1 encode asks for the weights (src/codec.ts).
 */
import { NimgError } from '../../errors.js';
import type { Core } from '../../core/types.js';
import type { BackendChoice, ModelWeights, Transforms } from '../../model/types.js';
import type { InitOptions } from '../../api-types.js';
import { gainTable } from './gain.js';

/** The core contract plus the optional fused paths of the WASM core (src/core/index.ts). */
export type FusedCore = Core & {
  encodeLatent?(ys: Float32Array, zhat: Int32Array, hz: number, wz: number): Uint8Array;
  decodeLatent?(bytes: Uint8Array, zhat: Int32Array, hz: number, wz: number, gainDec: Float32Array): Float32Array;
  encodeLatentHs?(ys: Float32Array, hs: Uint32Array): Uint8Array;
  decodeLatentHs?(bytes: Uint8Array, hs: Uint32Array, gainDec: Float32Array): Float32Array;
  /** the compiled module (the WASM core has it): the perimage profile instantiates it again */
  readonly module?: WebAssembly.Module;
};

/**
 * The WebGPU h_s (src/model/gpu-hs.ts) as this model uses it. Structural, so that the
 * package's declarations (NimgCodec exposes this class) never name WebGPU's types: a strict
 * consumer without the DOM library must compile them.
 */
export interface GpuHs {
  run(zhat: Int32Array, hz: number, wz: number): Promise<Uint32Array>;
  fits(hz: number, wz: number): boolean;
  dispose(): void;
}

export type TransformFactoryOptions = Pick<InitOptions, 'wasmPaths' | 'tfjsWasmModule' | 'threads' | 'tileSize' | 'workerUrl' | 'timeoutMs'>;

const sameInts = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export class AmortizedModel {
  private readonly transforms = new Map<BackendChoice, Promise<Transforms>>();
  /** the WebGPU h_s, made on first use on that backend (null: unusable, the core runs h_s) */
  private gpuHs: Promise<GpuHs | null> | null = null;
  private joint: Promise<import('../../model/refine-types.js').JointModel> | null = null;
  private disposed = false;
  readonly modelId: string;
  readonly weightsHash: string;
  readonly levels: number;
  readonly M: number;
  readonly Nz: number;
  readonly stride: number;
  readonly gainEnc: Float32Array;
  readonly gainDec: Float32Array;

  private constructor(
    readonly core: FusedCore,
    readonly weights: ModelWeights,
    private readonly tfOpts: TransformFactoryOptions,
  ) {
    const m = weights.manifest;
    this.modelId = m.model_id;
    this.weightsHash = weights.hash;
    this.levels = m.quality?.levels ?? 8;
    this.M = m.arch.M;
    this.Nz = m.arch.Nz;
    this.stride = m.arch.stride;
    if (this.stride !== 64) throw new NimgError('MODEL_MISMATCH', `arch.stride ${this.stride}: container v1 assumes 64`);
    if (!(Number.isInteger(this.levels) && this.levels >= 2)) throw new NimgError('MODEL_MISMATCH', `quality.levels ${this.levels} must be >= 2`);
    this.gainEnc = gainTable(weights, 'gain.enc', this.levels, this.M);
    this.gainDec = gainTable(weights, 'gain.dec', this.levels, this.M);
  }

  /** Parse the weight files and install them in the core (the core's setModel). */
  static async load(core: FusedCore, weights: { manifest: string | object; bin: Uint8Array }, tfOpts: TransformFactoryOptions): Promise<AmortizedModel> {
    if (!weights || typeof weights !== 'object' || !(weights.bin instanceof Uint8Array) || weights.manifest == null) {
      throw new NimgError('BAD_INPUT', 'weights must be { manifest: string | object, bin: Uint8Array }');
    }
    const [{ parseWeights }, { coreModelFromWeights }] = await Promise.all([import('../../model/weights.js'), import('../../core/model.js')]);
    const parsed = await parseWeights(weights.manifest, weights.bin);
    core.setModel(coreModelFromWeights(parsed));
    return new AmortizedModel(core, parsed, tfOpts);
  }

  /** The transforms of a backend, created on first use. */
  transformsFor(choice: BackendChoice): Promise<Transforms> {
    if (this.disposed) return Promise.reject(new NimgError('NOT_INITIALIZED', 'this codec was disposed'));
    let p = this.transforms.get(choice);
    if (!p) {
      p = (async () => {
        const { createTransforms } = await import('../../model/transforms.js');
        const t = await createTransforms(this.weights, { ...this.tfOpts, backend: choice });
        if (choice === 'auto' && !this.transforms.has(t.backend)) this.transforms.set(t.backend, Promise.resolve(t));
        // WebGPU: compile the device h_s and run its check against the core now rather than
        // in the first call's entropy stage (never fails: a problem leaves h_s in the core)
        if (t.backend === 'webgpu') void this.gpuHsFor(t, 1, 1);
        return t;
      })();
      this.transforms.set(choice, p);
      p.catch(() => {
        if (this.transforms.get(choice) === p) this.transforms.delete(choice);
      });
    }
    return p;
  }

  /**
   * The WebGPU h_s for a call on `tf`, or null (other backend, model outside its exact range,
   * device trouble, or it once disagreed with the core). Before first use it is run on a
   * fixed zhat (every value from -255 to 255, 2x3 cells) and must equal the core's h_s
   * exactly: a device that computes differently must never code symbols.
   */
  gpuHsFor(tf: Transforms, hz: number, wz: number): Promise<GpuHs | null> {
    if (tf.backend !== 'webgpu') return Promise.resolve(null);
    this.gpuHs ??= (async () => {
      const [{ GpuHyperSynthesis, webgpuDevice, unpackHs }, { coreModelFromWeights }] = await Promise.all([import('../../model/gpu-hs.js'), import('../../core/model.js')]);
      const device = await webgpuDevice();
      if (!device) return null;
      const model = coreModelFromWeights(this.weights);
      const hs = await GpuHyperSynthesis.create(device, model);
      if (!hs) return null;
      const n = this.Nz * 6;
      const z = Int32Array.from({ length: n }, (_, i) => ((i * 211) % 511) - 255);
      const got = unpackHs(await hs.run(z, 2, 3));
      const ref = this.core.hyperSynthesis(z, 2, 3);
      if (!(sameInts(got.muQ, ref.muQ) && sameInts(got.idx, ref.idx))) {
        hs.dispose();
        return null;
      }
      return hs;
    })().catch(() => null);
    return this.gpuHs.then((hs) => (hs && hs.fits(hz, wz) ? hs : null));
  }

  /** A GPU h_s call failed: stop using it (this model falls back to the core for good). */
  dropGpuHs(): null {
    const p = this.gpuHs;
    this.gpuHs = Promise.resolve(null);
    p?.then((hs) => hs?.dispose(), () => {});
    return null;
  }

  /** The integer h_s, z tables and scales that refinement's joint phase differentiates (built once). */
  jointModel(): Promise<import('../../model/refine-types.js').JointModel> {
    this.joint ??= import('../../core/model.js').then(({ coreModelFromWeights }) => {
      return { ...coreModelFromWeights(this.weights), scales: this.scaleTable() };
    });
    return this.joint;
  }

  /** The manifest's scale table, checked (MODEL_MISMATCH unless num_scales positive numbers). */
  private scaleTable(): number[] {
    const scales = this.weights.manifest.entropy.scales;
    const n = this.weights.manifest.entropy.num_scales;
    if (!Array.isArray(scales) || scales.length !== n || !scales.every((v) => typeof v === 'number' && v > 0)) {
      throw new NimgError('MODEL_MISMATCH', `entropy.scales must be ${n} positive numbers`);
    }
    return scales;
  }

  /** Gaussian means of the latent: muQ / 2^mean_frac_bits (exact in float32). */
  meansOf(muQ: Int32Array): Float32Array {
    const sc = Math.pow(2, -this.weights.manifest.entropy.mean_frac_bits);
    const out = new Float32Array(muQ.length);
    for (let i = 0; i < muQ.length; i++) out[i] = muQ[i] * sc;
    return out;
  }

  /** Gaussian scales of the latent: the scale of each element's table. */
  scalesOf(idx: Int32Array): Float32Array {
    const scales = this.scaleTable();
    const out = new Float32Array(idx.length);
    for (let i = 0; i < idx.length; i++) out[i] = scales[idx[i]];
    return out;
  }

  /**
   * The training lambda of a continuous quality: log-linear between the two neighbouring
   * levels (as train/model.py lambda_of), so refinement trades rate for distortion at the
   * slope the gains were trained for.
   */
  lambdaAt(q: number): number {
    const l = this.weights.manifest.quality?.lambdas;
    if (!Array.isArray(l) || l.length !== this.levels || !l.every((v) => typeof v === 'number' && v > 0)) {
      throw new NimgError('MODEL_MISMATCH', `quality.lambdas must be ${this.levels} positive numbers`);
    }
    const i = Math.min(this.levels - 1, Math.max(1, Math.floor(q)));
    const t = q - i;
    return Math.exp(Math.log(l[i - 1]) * (1 - t) + Math.log(l[i]) * t);
  }

  /** Release the transforms (GPU buffers, worker threads) and the device h_s. */
  dispose(): void {
    this.disposed = true;
    this.dropGpuHs();
    for (const p of this.transforms.values()) p.then((t) => t.dispose(), () => {});
    this.transforms.clear();
  }

}
