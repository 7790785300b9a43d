/**
 * The integer hyper-synthesis h_s on WebGPU, bit-exact with the WASM core's
 * `hyperSynthesis` (assembly/hs.ts; shaders in ./gpu-hs-wgsl.ts). Its output selects the
 * entropy tables, so one differing value breaks the file: `createGpuHs` refuses a model
 * outside the range the shaders are exact for, and the codec checks a run against the core
 * once before it relies on it (src/codec.ts).
 *
 * Runs on the tfjs-webgpu backend's GPUDevice (`webgpuDevice()`) with its own buffers and
 * pipelines: one upload of zhat, three dispatches in one pass, one read-back of the packed
 * result: u32 [M][4hz][4wz] = (mu_q & 0xffff) | idx << 16 (`unpackHs` splits it). Buffers
 * are kept for the last size. Failures (validation, out-of-memory, lost device) reject with
 * NimgError('INTERNAL'); the caller falls back to the core.
 *
 * Only the WebGPU API is used (minimal local types below: tsconfig has no @webgpu/types).
 */
import { NimgError } from '../errors.js';
import type { CoreModel, HsLayer } from '../core/types.js';
import { validateHsLayer } from '../core/model.js';
import { conv1x1PackWgsl, conv3x3ShuffleWgsl } from './gpu-hs-wgsl.js';

// --------------------------------------------------------------------- minimal WebGPU types

interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}
interface GpuPipeline {
  getBindGroupLayout(i: number): unknown;
}
interface GpuPass {
  setPipeline(p: GpuPipeline): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GpuEncoder {
  beginComputePass(): GpuPass;
  copyBufferToBuffer(src: GpuBuffer, so: number, dst: GpuBuffer, doff: number, n: number): void;
  finish(): unknown;
}
export interface GpuDeviceLike {
  readonly limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupsPerDimension: number };
  readonly queue: { writeBuffer(b: GpuBuffer, off: number, data: ArrayBufferView): void; submit(c: unknown[]): void };
  createBuffer(d: { size: number; usage: number; label?: string }): GpuBuffer;
  createShaderModule(d: { code: string; label?: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string }; label?: string }): GpuPipeline;
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: GpuBuffer } }[] }): unknown;
  createCommandEncoder(): GpuEncoder;
  pushErrorScope(f: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<{ message: string } | null>;
}

// GPUBufferUsage / GPUMapMode values (the globals exist only where WebGPU does)
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;

/** The GPUDevice of tfjs's 'webgpu' backend, if that backend is registered and started. */
export async function webgpuDevice(): Promise<GpuDeviceLike | null> {
  const tf = await import('@tensorflow/tfjs-core');
  const b = tf.findBackend('webgpu') as unknown as { device?: GpuDeviceLike } | null;
  return b?.device ?? null;
}

// ------------------------------------------------------------------------------ model checks

/** (b, m, sh, 0) per channel o in [from, from + n), zero past the layer's channels */
function qParams(L: HsLayer, from: number, n: number): Int32Array {
  const q = new Int32Array(4 * n);
  for (let j = 0; j < n; j++) {
    const o = from + j;
    if (o >= L.cout) continue;
    q[4 * j] = L.b[o];
    q[4 * j + 1] = L.m[o];
    q[4 * j + 2] = L.sh[o];
  }
  // padding channels keep m = 0, sh = 0: never written (the shader skips ch >= M)
  return q;
}

/** k = 3 weights [4C][cin][9] → vec4 [C][cin][9] (lane j = conv channel 4c + j) */
function packConv3(L: HsLayer): Int32Array {
  const C = L.cout / 4;
  const K = L.cin * 9;
  const out = new Int32Array(4 * C * K);
  for (let c = 0; c < C; c++) for (let j = 0; j < 4; j++) for (let t = 0; t < K; t++) out[(c * K + t) * 4 + j] = L.w[(4 * c + j) * K + t];
  return out;
}

/** k = 1 weights of channels from..from+M-1 → vec4 [G][cin] (lane j = channel from + 4g + j) */
function packConv1(L: HsLayer, from: number, M: number): Int32Array {
  const G = Math.ceil(M / 4);
  const out = new Int32Array(4 * G * L.cin);
  for (let g = 0; g < G; g++) {
    for (let j = 0; j < 4; j++) {
      const c = 4 * g + j;
      if (c >= M) continue;
      for (let i = 0; i < L.cin; i++) out[(g * L.cin + i) * 4 + j] = L.w[(from + c) * L.cin + i];
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ runner

interface SizeSet {
  hz: number;
  wz: number;
  buffers: GpuBuffer[];
  z: GpuBuffer;
  out: GpuBuffer;
  read: GpuBuffer;
  groups: unknown[];
  dispatch: [number, number, number][];
}

export class GpuHyperSynthesis {
  readonly M: number;
  readonly Nz: number;
  private readonly H0: number;
  private readonly H1: number;
  private readonly weightBufs: GpuBuffer[];
  private set: SizeSet | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private disposed = false;

  private constructor(
    private readonly device: GpuDeviceLike,
    private readonly model: CoreModel,
    private readonly pipelines: GpuPipeline[],
    private readonly weights: GpuBuffer[][],
  ) {
    this.M = model.M;
    this.Nz = model.Nz;
    this.H0 = model.hs[0].cout / 4;
    this.H1 = model.hs[1].cout / 4;
    this.weightBufs = weights.flat();
  }

  /**
   * Upload the h_s weights and compile the three pipelines. Returns null when the model is
   * outside the exact range or its shapes do not chain; rejects with
   * NimgError('INTERNAL') when the device refuses a pipeline or a buffer.
   */
  static async create(device: GpuDeviceLike, model: CoreModel): Promise<GpuHyperSynthesis | null> {
    const [l0, l1, l2] = model.hs;
    if (model.hs.length !== 3 || l0.k !== 3 || l1.k !== 3 || l2.k !== 1) return null;
    if (l0.cin !== model.Nz || l0.cout % 4 || l1.cin * 4 !== l0.cout || l1.cout % 4 || l2.cin * 4 !== l1.cout || l2.cout !== 2 * model.M) return null;
    // the shaders are exact in the core's range (0 < m < 2^16, 1 <= sh <= 40, 255·Σ|w| < 2^31
    // per channel: i32 accumulation in any order, |input| <= 255), so the core's check serves
    if (!(model.numScales >= 1 && model.numScales <= 65536) || !model.hs.every((L) => validateHsLayer(L) === null)) return null;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const made: GpuBuffer[] = [];
    const upload = (data: Int32Array, label: string): GpuBuffer => {
      const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: STORAGE | COPY_DST, label });
      made.push(b);
      device.queue.writeBuffer(b, 0, data);
      return b;
    };
    const M = model.M;
    const G = Math.ceil(M / 4);
    const weights = [
      [upload(packConv3(l0), 'hs0.w'), upload(qParams(l0, 0, l0.cout), 'hs0.q')],
      [upload(packConv3(l1), 'hs1.w'), upload(qParams(l1, 0, l1.cout), 'hs1.q')],
      [upload(packConv1(l2, 0, M), 'hs2.wmu'), upload(packConv1(l2, M, M), 'hs2.widx'), upload(qParams(l2, 0, 4 * G), 'hs2.qmu'), upload(qParams(l2, M, 4 * G), 'hs2.qidx')],
    ];
    const pipe = (code: string, label: string) =>
      device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' }, label });
    const pipelines = [pipe(conv3x3ShuffleWgsl(l0.cin, true), 'nimg_hs0'), pipe(conv3x3ShuffleWgsl(l1.cin, false), 'nimg_hs1'), pipe(conv1x1PackWgsl(l2.cin), 'nimg_hs2')];
    const errs = [await device.popErrorScope(), await device.popErrorScope()].filter(Boolean);
    if (errs.length) {
      for (const b of made) b.destroy();
      throw new NimgError('INTERNAL', `gpu h_s: ${errs.map((e) => e!.message).join('; ')}`);
    }
    return new GpuHyperSynthesis(device, model, pipelines, weights);
  }

  /** Bytes of the largest buffer an hz x wz call needs. */
  private static largest(M: number, H0: number, H1: number, Nz: number, hz: number, wz: number): number {
    const HW = hz * wz;
    return 4 * Math.max(Nz * HW, 4 * H0 * HW, 16 * H1 * HW, 16 * M * HW);
  }

  /** Does an hz x wz call fit the device's buffer and dispatch limits? */
  fits(hz: number, wz: number): boolean {
    if (!(Number.isInteger(hz) && Number.isInteger(wz) && hz >= 1 && wz >= 1)) return false;
    const lim = this.device.limits;
    const big = GpuHyperSynthesis.largest(this.M, this.H0, this.H1, this.Nz, hz, wz);
    const maxWg = lim.maxComputeWorkgroupsPerDimension;
    return big <= lim.maxStorageBufferBindingSize && big <= lim.maxBufferSize && Math.ceil((4 * wz) / 8) <= maxWg && Math.ceil((4 * hz) / 8) <= maxWg;
  }

  private sizeSet(hz: number, wz: number): SizeSet {
    if (this.set && this.set.hz === hz && this.set.wz === wz) return this.set;
    this.releaseSet();
    const d = this.device;
    const HW = hz * wz;
    const P = 16 * HW;
    const buffers: GpuBuffer[] = [];
    const buf = (bytes: number, usage: number, label: string) => {
      const b = d.createBuffer({ size: Math.max(16, bytes), usage, label });
      buffers.push(b);
      return b;
    };
    const z = buf(4 * this.Nz * HW, STORAGE | COPY_DST, 'hs.z');
    const a1 = buf(4 * this.H0 * 4 * HW, STORAGE, 'hs.act1');
    const a2 = buf(4 * this.H1 * P, STORAGE, 'hs.act2');
    const out = buf(4 * this.M * P, STORAGE | COPY_SRC, 'hs.out');
    const read = buf(4 * this.M * P, MAP_READ | COPY_DST, 'hs.read');
    const dims = [
      [hz, wz, 0, 0],
      [2 * hz, 2 * wz, 0, 0],
      [P, this.M, this.model.numScales - 1, 0],
    ].map((v, l) => {
      const u = buf(16, UNIFORM | COPY_DST, `hs.dims${l}`);
      d.queue.writeBuffer(u, 0, Uint32Array.from(v));
      return u;
    });
    const [p0, p1, p2] = this.pipelines;
    const [w0, w1, w2] = this.weights;
    const group = (p: GpuPipeline, list: GpuBuffer[]) => d.createBindGroup({ layout: p.getBindGroupLayout(0), entries: list.map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const groups = [group(p0, [z, w0[0], w0[1], a1, dims[0]]), group(p1, [a1, w1[0], w1[1], a2, dims[1]]), group(p2, [a2, w2[0], w2[1], w2[2], w2[3], out, dims[2]])];
    const tiles = Math.ceil(P / 64);
    const nx = Math.min(tiles, this.device.limits.maxComputeWorkgroupsPerDimension);
    const dispatch: [number, number, number][] = [
      [Math.ceil(wz / 8), Math.ceil(hz / 8), this.H0],
      [Math.ceil((2 * wz) / 8), Math.ceil((2 * hz) / 8), this.H1],
      [nx, Math.ceil(tiles / nx), Math.ceil(this.M / 4)],
    ];
    this.set = { hz, wz, buffers, z, out, read, groups, dispatch };
    return this.set;
  }

  private releaseSet(): void {
    for (const b of this.set?.buffers ?? []) b.destroy();
    this.set = null;
  }

  /**
   * h_s of zhat int32 [Nz][hz][wz] → packed u32 [M][4hz][4wz]: (mu_q & 0xffff) | idx << 16.
   * The upload and the dispatches are issued before the first await (the caller can work
   * on the CPU meanwhile). Calls are serialised.
   */
  run(zhat: Int32Array, hz: number, wz: number): Promise<Uint32Array> {
    // idle: issue the work now, synchronously (a .then would defer it past the caller's
    // next synchronous step, e.g. the z stream coding it is meant to overlap)
    const go = () => this.runNow(zhat, hz, wz);
    const p = this.inFlight === 0 ? go() : this.tail.then(go);
    this.inFlight++;
    this.tail = p.then(
      () => void this.inFlight--,
      () => void this.inFlight--,
    );
    return p;
  }

  private runNow(zhat: Int32Array, hz: number, wz: number): Promise<Uint32Array> {
    if (this.disposed) return Promise.reject(new NimgError('NOT_INITIALIZED', 'gpu h_s was disposed'));
    if (!(zhat instanceof Int32Array) || zhat.length !== this.Nz * hz * wz) {
      return Promise.reject(new NimgError('BAD_INPUT', `gpu h_s: zhat must be an Int32Array of ${this.Nz}x${hz}x${wz}`));
    }
    if (!this.fits(hz, wz)) return Promise.reject(new NimgError('LIMIT_EXCEEDED', `gpu h_s: ${wz}x${hz} exceeds the device limits`));
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let s: SizeSet;
    try {
      s = this.sizeSet(hz, wz);
      d.queue.writeBuffer(s.z, 0, zhat);
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let l = 0; l < 3; l++) {
        pass.setPipeline(this.pipelines[l]);
        pass.setBindGroup(0, s.groups[l]);
        pass.dispatchWorkgroups(...s.dispatch[l]);
      }
      pass.end();
      enc.copyBufferToBuffer(s.out, 0, s.read, 0, 4 * this.M * 16 * hz * wz);
      d.queue.submit([enc.finish()]);
    } catch (e) {
      void d.popErrorScope();
      void d.popErrorScope();
      this.releaseSet();
      return Promise.reject(new NimgError('INTERNAL', `gpu h_s: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
    const n = this.M * 16 * hz * wz;
    const errors = Promise.all([d.popErrorScope(), d.popErrorScope()]);
    const mapped = s.read.mapAsync(MAP_READ);
    return Promise.allSettled([errors, mapped]).then(([er, mr]) => {
      const errs = er.status === 'fulfilled' ? er.value.filter(Boolean).map((e) => e!.message) : [String(er.reason)];
      if (mr.status === 'rejected' || errs.length) {
        if (mr.status === 'fulfilled') s.read.unmap();
        this.releaseSet();
        const why = errs.length ? errs.join('; ') : String((mr as PromiseRejectedResult).reason);
        throw new NimgError('INTERNAL', `gpu h_s: ${why}`);
      }
      const out = new Uint32Array(n);
      out.set(new Uint32Array(s.read.getMappedRange(), 0, n));
      s.read.unmap();
      return out;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseSet();
    for (const b of this.weightBufs) b.destroy();
  }
}

/** Split the packed h_s output into mu_q (sign-extended low 16 bits) and idx (high 16 bits). */
export function unpackHs(packed: Uint32Array): { muQ: Int32Array; idx: Int32Array } {
  const n = packed.length;
  const muQ = new Int32Array(n);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = packed[i];
    muQ[i] = (v << 16) >> 16;
    idx[i] = v >>> 16;
  }
  return { muQ, idx };
}
