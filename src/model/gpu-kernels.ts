/**
 * Custom WebGPU kernels for tfjs-backend-webgpu (used only when the active backend is
 * 'webgpu'). They fold element-wise tails and layout changes that tfjs would run as
 * separate dispatches, each a full pass over the tensor in memory:
 *
 *   gdnEpilogueGpu   GDN/IGDN tail x * rsqrt(norm) | x * sqrt(norm) (tfjs: unary + mul),
 *                    optionally with g_s's depth-to-space folded into the indexing
 *                    (tfjs: + transpose)
 *   d2sToPlanarGpu   g_s's last depth-to-space + NHWC → planar [1, 3, H, W] (tfjs: transpose
 *                    + a CPU loop over the read-back pixels)
 *   planarToRgbaGpu  planar [1, 3, H, W] → cropped RGBA8 pixels (the core's toRgba: NaN → 0,
 *                    clamp [0, 1], ×255 in f32, round half to even), a quarter of the
 *                    float read-back
 *
 * The arithmetic is the same as tfjs's kernels (WGSL `inverseSqrt`, `sqrt`, one f32
 * multiply), so the results equal the unfused WebGPU path's. Programs follow tfjs-webgpu's
 * WebGPUProgram shape (flat dispatch, `getCoordsFromIndex`/`setOutputAtIndex` helpers from
 * its shader preamble). No static import of tfjs-backend-webgpu: it registers itself on
 * import, which must wait until navigator.gpu exists (src/backend/index.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  uniforms?: string;
  getUserCode(): string;
}

/** Values of a program's own uniform fields, in declaration order. */
export type ProgramUniform = { type: 'float32' | 'int32' | 'uint32'; data: number[] }[];

interface WebGpuBackendLike {
  runWebGPUProgram(p: Program, inputs: tf.TensorInfo[], dtype: 'float32' | 'int32', uniforms?: ProgramUniform): tf.TensorInfo;
}

const WG = 64;

/** A flat (one thread per output element) program; `uniforms`: extra WGSL uniform fields ("tau : f32, "). */
export function flatProgram(name: string, variableNames: string[], outputShape: number[], code: string, uniforms?: string): Program {
  const size = outputShape.reduce((a, b) => a * b, 1);
  // a class of that name: tfjs's profiler (tf.time / tf.profile) labels programs by constructor name
  const Named = { [name]: class {} }[name];
  const p: Program = {
    variableNames,
    outputShape,
    shaderKey: name,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WG), 1, 1],
    workgroupSize: [WG, 1, 1],
    size: true,
    getUserCode: () => code,
    ...(uniforms ? { uniforms } : {}),
  };
  return Object.assign(new Named(), p);
}

/** The active tfjs WebGPU device's maxStorageBufferBindingSize (undefined when not known). */
export function storageBindingLimit(): number | undefined {
  return (tf.backend() as unknown as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device?.limits?.maxStorageBufferBindingSize;
}

/** True when the active tfjs backend can run these programs. */
export function gpuKernelsAvailable(): boolean {
  return tf.getBackend() === 'webgpu' && typeof (tf.backend() as unknown as WebGpuBackendLike).runWebGPUProgram === 'function';
}

/**
 * Run program `p` on the tfjs WebGPU backend; `p` may be run any number of times.
 * tfjs-webgpu's runWebGPUProgram (4.22) REPLACES program.shaderKey with makeShaderKey(program,
 * …) — the key plus a suffix of input ranks, dtypes and names — so a program object run again
 * (the cached K-member programs of perimage/encoder/members.ts, SynthGpu's programs) got a
 * longer key every run: a new entry in the backend's pipelineCache (never emptied) and a new
 * pipeline every run. Measured (K = 6, SwiftShader): 32 new pipelines a training step, whose
 * keys together grew ~2100 characters a step, ~1 GB of JS strings after a 1000-step encode and
 * a worker's "JavaScript heap out of memory" in its second encode; on an H100 the 768x512 step
 * took 55.3 ms instead of 7.49. Restored here, the suffix is the same every run and the key hits
 * the cache (test/perimage-memory.test.ts).
 */
export function run(p: Program, inputs: tf.Tensor[], dtype: 'float32' | 'int32' = 'float32', uniforms?: ProgramUniform): tf.Tensor4D {
  if (!gpuKernelsAvailable()) throw new Error('gpu-kernels: the active tfjs backend is not webgpu');
  const key = p.shaderKey;
  try {
    const info = (tf.backend() as unknown as WebGpuBackendLike).runWebGPUProgram(p, inputs, dtype, uniforms);
    return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
  } finally {
    p.shaderKey = key;
  }
}

/**
 * WGSL expression: index into X = [n, h, w, 4C] (DCR channel (dy*2+dx)*C + c) of output
 * pixel (Y, X), channel c of depthToSpace(X) = [n, 2h, 2w, C]; batch from o.x.
 */
function dcrSource(Y: string, X: string, c: string, C: string): string {
  return `((${Y} / 2) * uniforms.xShape.z + (${X} / 2)) * (4 * ${C}) + ((${Y} % 2) * 2 + (${X} % 2)) * ${C} + ${c}
                    + o.x * uniforms.xShapeStrides.x`;
}

/**
 * GDN tail: y = x * rsqrt(norm) (inverse: x * sqrt(norm)), x and norm of the same layout.
 * `d2s`: x and norm are [1, h, w, 4C] (DCR channel (dy*2+dx)*C + c) and y is
 * depthToSpace(x * f(norm)) = [1, 2h, 2w, C].
 */
export function gdnEpilogueGpu(x: tf.Tensor4D, norm: tf.Tensor, inverse: boolean, d2s: boolean): tf.Tensor4D {
  const f = inverse ? 'sqrt(n)' : 'inverseSqrt(n)';
  if (!d2s) {
    const code = `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let n = N[index];
          let g = ${f};
          setOutputAtIndex(index, X[index] * g);
        }
      }`;
    return run(flatProgram(`nimg_gdn_${inverse ? 'i' : 'f'}`, ['X', 'N'], x.shape.slice(), code), [x, norm]);
  }
  const [n, h, w, c4] = x.shape;
  const C = c4 / 4;
  const code = `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getCoordsFromIndex(index);      // [0, Y, X, c]
          let src = ${dcrSource('o.y', 'o.z', 'o.w', 'uniforms.outShape.w')};
          let n = N[src];
          let g = ${f};
          setOutputAtIndex(index, X[src] * g);
        }
      }`;
  return run(flatProgram(`nimg_gdn_d2s_${inverse ? 'i' : 'f'}`, ['X', 'N'], [n, 2 * h, 2 * w, C], code), [x, norm]);
}

/** [1, h, w, 4C] (DCR) → depthToSpace → planar [1, C, 2h, 2w]. */
export function d2sToPlanarGpu(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c4] = x.shape;
  const C = c4 / 4;
  const code = `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getCoordsFromIndex(index);      // [0, c, Y, X]
          let src = ${dcrSource('o.z', 'o.w', 'o.y', 'uniforms.outShape.y')};
          setOutputAtIndex(index, X[src]);
        }
      }`;
  return run(flatProgram('nimg_d2s_planar', ['X'], [n, C, 2 * h, 2 * w], code), [x]);
}

/**
 * planar [1, 3, Hp, Wp] → int32 [height, width], each the RGBA bytes of one pixel
 * (little-endian: R | G << 8 | B << 16 | 255 << 24) of the top-left height x width crop.
 * Per channel exactly src/core toRgba's toByte: NaN → 0, clamp to [0, 1], v * 255 (f32),
 * round half to even.
 */
export function planarToRgbaGpu(x: tf.Tensor4D, width: number, height: number): tf.Tensor {
  const code = `
      fn toByte(v : f32) -> u32 {
        if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { return 0u; }
        let c = min(max(v, 0.0), 1.0);
        return u32(round(c * 255.0));
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          let W = uniforms.outShape.y;
          let yy = index / W;
          let xx = index - yy * W;
          let plane = uniforms.xShape.z * uniforms.xShape.w;
          let s = yy * uniforms.xShape.w + xx;
          let px = toByte(X[s]) | (toByte(X[s + plane]) << 8u) | (toByte(X[s + 2 * plane]) << 16u) | 0xff000000u;
          result[index] = bitcast<i32>(px);
        }
      }`;
  return run(flatProgram('nimg_rgba8', ['X'], [height, width], code), [x], 'int32');
}

/** f32(b) / 255 for b = 0..255, as the core's toPlanar computes it (one IEEE division). */
export function byteToUnitTable(): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) t[b] = Math.fround(b / 255);
  return t;
}

/**
 * RGBA8 pixels (int32 [height * width], little-endian R | G << 8 | B << 16 | A << 24) →
 * NHWC float [1, padH, padW, 3], exactly the core's toPlanar (then NHWC): value lut[byte]
 * (lut = byteToUnitTable(), so no GPU division), edge replication into the padding
 * (columns >= width repeat the last column, rows >= height the last row).
 */
export function rgbaToNhwcGpu(px: tf.Tensor, lut: tf.Tensor, width: number, height: number, padW: number, padH: number): tf.Tensor4D {
  const code = `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getCoordsFromIndex(index);      // [0, y, x, c]
          let w = uniforms.pShape.y;
          let h = uniforms.pShape.x;
          let sy = min(o.y, h - 1);
          let sx = min(o.z, w - 1);
          let word = bitcast<u32>(P[sy * w + sx]);
          let b = (word >> (8u * u32(o.w))) & 255u;
          setOutputAtIndex(index, L[b]);
        }
      }`;
  const x = tf.reshape(px, [height, width]);
  try {
    return run(flatProgram('nimg_rgba_to_nhwc', ['P', 'L'], [1, padH, padW, 3], code), [x, lut]);
  } finally {
    x.dispose();
  }
}
