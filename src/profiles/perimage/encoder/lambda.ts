/**
 * quality → λ of the per-image loss MSE(x̂, x) + λ · bits / (H·W) (MSE on [0, 1] RGB).
 *
 * A table, log-linear between integer qualities, so it is monotone by construction (higher
 * quality, smaller λ, more bits). The values are a first guess from Cool-chic-style
 * operating points (λ ≈ 2e-2 … 1e-4 spans about 0.1 … 1.5 bpp on Kodak); the lead
 * recalibrates them from the PyTorch sweeps (train/perimage/) so that bpp matches the
 * amortized profile at the same quality (q1 ≈ 0.11, q5 ≈ 0.5, q8 ≈ 1.4 bpp).
 */
import { NimgError } from '../../../errors.js';

/** λ at quality 1, 2, …, 8 */
export const LAMBDA_TABLE: readonly number[] = [2.0e-2, 1.0e-2, 5.0e-3, 2.5e-3, 1.3e-3, 7.0e-4, 3.5e-4, 1.5e-4];

export function qualityToLambda(quality: number): number {
  if (!(quality >= 1 && quality <= 8)) throw new NimgError('BAD_INPUT', `perimage: quality ${quality} outside [1, 8]`);
  const i = Math.min(6, Math.floor(quality - 1));
  const f = quality - 1 - i;
  return Math.exp(Math.log(LAMBDA_TABLE[i]) * (1 - f) + Math.log(LAMBDA_TABLE[i + 1]) * f);
}

/**
 * The inverse of qualityToLambda on the table (log-linear), clamped to [1, 8]: the quality a
 * file encoded with an explicit λ declares in its header.
 */
export function lambdaToQuality(lambda: number): number {
  if (!(lambda > 0 && Number.isFinite(lambda))) throw new NimgError('BAD_INPUT', `perimage: lambda ${lambda}`);
  const T = LAMBDA_TABLE;
  if (lambda >= T[0]) return 1;
  if (lambda <= T[7]) return 8;
  let i = 0;
  while (lambda < T[i + 1]) i++;
  return 1 + i + Math.log(lambda / T[i]) / Math.log(T[i + 1] / T[i]);
}
