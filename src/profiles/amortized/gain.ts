/**
 * The quality gains of the amortized model (weights/README.md): one vector per integer
 * quality level, interpolated geometrically for the continuous quality scale.
 */
import { NimgError } from '../../errors.js';
import type { ModelWeights } from '../../model/types.js';

/**
 * Gain vector for a continuous quality (weights/README.md): i = floor(q) (7 when q = 8),
 * t = q − i, g = gain[i−1]^(1−t) · gain[i]^t elementwise.
 */
export function interpolateGain(table: Float32Array, levels: number, M: number, q: number): Float32Array {
  let i = Math.floor(q);
  if (i >= levels) i = levels - 1;
  if (i < 1) i = 1;
  const t = q - i;
  const out = new Float32Array(M);
  const a = (i - 1) * M;
  const b = i * M;
  if (t === 0) {
    out.set(table.subarray(a, a + M));
    return out;
  }
  if (t === 1) {
    out.set(table.subarray(b, b + M));
    return out;
  }
  for (let c = 0; c < M; c++) out[c] = Math.pow(table[a + c], 1 - t) * Math.pow(table[b + c], t);
  return out;
}

/** A gain table of the weights, checked: [levels, M] floats (MODEL_MISMATCH otherwise). */
export function gainTable(w: ModelWeights, name: string, levels: number, M: number): Float32Array {
  const t = w.tensors.get(name);
  if (!t) throw new NimgError('MODEL_MISMATCH', `weights lack tensor ${name}`);
  if (t.shape.length !== 2 || t.shape[0] !== levels || t.shape[1] !== M) {
    throw new NimgError('MODEL_MISMATCH', `tensor ${name} has shape [${t.shape}], expected [${levels},${M}]`);
  }
  if (!(t.data instanceof Float32Array)) throw new NimgError('MODEL_MISMATCH', `tensor ${name} must be float`);
  return t.data;
}
