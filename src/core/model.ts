/**
 * Parsed weight set (src/model/types.ts ModelWeights) → CoreModel (the integer h_s and the
 * entropy tables the bit-exact core needs). Platform-neutral, no Node imports.
 * Errors: MODEL_MISMATCH when a tensor is missing or has the wrong dtype/shape, or a table
 * is malformed (the core's setModel re-validates the tables too).
 */
import { NimgError } from '../errors.js';
import type { TensorEntry, WeightsManifest } from '../model/types.js';
import type { CoreModel, EntropyTables, HsLayer } from './types.js';

export interface WeightsLike {
  manifest: Pick<WeightsManifest, 'arch' | 'entropy'>;
  tensors: Map<string, TensorEntry>;
}

function mismatch(msg: string): never {
  throw new NimgError('MODEL_MISMATCH', msg);
}

function get(w: WeightsLike, name: string, dtype: TensorEntry['dtype'], shape?: number[]): TensorEntry {
  const t = w.tensors.get(name);
  if (!t) mismatch(`weights lack tensor ${name}`);
  if (t.dtype !== dtype) mismatch(`tensor ${name} is ${t.dtype}, expected ${dtype}`);
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    mismatch(`tensor ${name} has shape [${t.shape}], expected [${shape}]`);
  }
  return t;
}

function tables(w: WeightsLike, prefix: string, T: number, precision: number): EntropyTables {
  const cdf = get(w, `${prefix}.cdf`, 'int32').data as Int32Array;
  const ptr = get(w, `${prefix}.ptr`, 'int32', [T + 1]).data as Int32Array;
  const offset = get(w, `${prefix}.offset`, 'int32', [T]).data as Int32Array;
  const err = validateTables({ precision, cdf, ptr, offset });
  if (err) mismatch(`${prefix}: ${err}`);
  return { precision, cdf, ptr, offset };
}

/**
 * Structural check of entropy tables; returns an error message or null.
 * Every table: length >= 2 (at least the escape symbol), cdf[0] = 0, strictly increasing,
 * last = 2^precision; ptr non-decreasing within cdf; n <= 2^precision.
 */
export function validateTables(t: EntropyTables): string | null {
  const { precision, cdf, ptr, offset } = t;
  if (precision !== 16) return `precision ${precision} unsupported (only 16)`;
  const T = offset.length;
  if (ptr.length !== T + 1) return `ptr has ${ptr.length} entries, expected ${T + 1}`;
  if (T < 1) return 'no tables';
  if (ptr[0] !== 0 || ptr[T] > cdf.length) return 'ptr out of range';
  const top = 1 << precision;
  for (let i = 0; i < T; i++) {
    const a = ptr[i];
    const b = ptr[i + 1];
    if (!(b - a >= 2)) return `table ${i}: length ${b - a} < 2`;
    if (cdf[a] !== 0) return `table ${i}: cdf[0] != 0`;
    if (cdf[b - 1] !== top) return `table ${i}: cdf[n] != 2^${precision}`;
    for (let j = a + 1; j < b; j++) if (!(cdf[j] > cdf[j - 1])) return `table ${i}: cdf not strictly increasing at ${j - a}`;
    const n = b - a - 1;
    const o = offset[i];
    // values offset .. offset+n-2 must stay in int32 with room for the escape arithmetic
    if (o < -(2 ** 30) || o + n > 2 ** 30) return `table ${i}: offset ${o} out of range`;
  }
  return null;
}

/** Build the CoreModel of a parsed weight set. */
export function coreModelFromWeights(w: WeightsLike): CoreModel {
  const { arch, entropy } = w.manifest;
  const { M, Nz } = arch;
  if (!Array.isArray(arch.hs_hidden) || arch.hs_hidden.length !== 2) mismatch('arch.hs_hidden must have 2 entries');
  const [H0, H1] = arch.hs_hidden;
  const numScales = entropy.num_scales;
  const precision = entropy.precision;
  const meanFracBits = entropy.mean_frac_bits;
  if (!Number.isInteger(numScales) || numScales < 1 || numScales > 65536) mismatch(`entropy.num_scales ${numScales} out of range`);
  if (!Number.isInteger(meanFracBits) || meanFracBits < 0 || meanFracBits > 15) mismatch(`entropy.mean_frac_bits ${meanFracBits} out of range`);
  const spec: [string, number, number, 1 | 3][] = [
    ['hs.0', Nz, 4 * H0, 3],
    ['hs.1', H0, 4 * H1, 3],
    ['hs.2', H1, 2 * M, 1],
  ];
  const hs: HsLayer[] = spec.map(([name, cin, cout, k]) => {
    const layer: HsLayer = {
      cin,
      cout,
      k,
      w: get(w, `${name}.w`, 'int8', [cout, cin, k, k]).data as Int8Array,
      b: get(w, `${name}.b`, 'int32', [cout]).data as Int32Array,
      m: get(w, `${name}.m`, 'int32', [cout]).data as Int32Array,
      sh: get(w, `${name}.sh`, 'int32', [cout]).data as Int32Array,
    };
    const err = validateHsLayer(layer);
    if (err) mismatch(`${name}: ${err}`);
    return layer;
  });
  return {
    M,
    Nz,
    numScales,
    meanFracBits,
    hs,
    gauss: tables(w, 'ent.gauss', numScales, precision),
    z: tables(w, 'ent.z', Nz, precision),
  };
}

/** Range checks of one h_s layer (multiplier 0 < m < 2^16, shift 1..40, sizes). */
export function validateHsLayer(L: HsLayer): string | null {
  if (!(L.k === 1 || L.k === 3)) return `kernel ${L.k} unsupported`;
  if (!(L.cin >= 1 && L.cout >= 1)) return 'empty layer';
  if (L.w.length !== L.cout * L.cin * L.k * L.k) return `w has ${L.w.length} values, expected ${L.cout * L.cin * L.k * L.k}`;
  if (L.b.length !== L.cout || L.m.length !== L.cout || L.sh.length !== L.cout) return 'b/m/sh length != cout';
  for (let o = 0; o < L.cout; o++) {
    if (!(L.m[o] > 0 && L.m[o] < 65536)) return `multiplier ${L.m[o]} of channel ${o} out of (0, 2^16)`;
    if (!(L.sh[o] >= 1 && L.sh[o] <= 40)) return `shift ${L.sh[o]} of channel ${o} out of 1..40`;
  }
  // the core accumulates the products in i32: 255·Σ|w| must stay below 2^31 (the bias is added in i64)
  const fan = L.cin * L.k * L.k;
  for (let o = 0; o < L.cout; o++) {
    let s = 0;
    for (let j = o * fan, e = j + fan; j < e; j++) s += Math.abs(L.w[j]);
    if (255 * s >= 2 ** 31) return `channel ${o}: weights too large for i32 accumulation`;
  }
  return null;
}
