/**
 * quality → λ of the per-image loss MSE(x̂, x) + λ · bits / (H·W) (MSE on [0, 1] RGB).
 *
 * A table, log-linear between integer qualities, so it is monotone by construction (higher
 * quality, smaller λ, more bits). Calibrated so that a quality gives about the amortized
 * profile's bpp: on 4 BSDS500 training photos (481x321, never Kodak), at the default effort
 * (8000 steps, recipe r4, H100), each quality's λ is where the per-image encoder's mean bpp
 * equals the amortized profile's mean bpp at that quality (0.123 bpp at q1 … 1.59 at q8).
 * bench/perimage-calibrate.ts → bench/results/perimage-calibration.json (whose `table` a test
 * holds this one to). Quality 1 is extrapolated slightly past the largest λ measured (1e-2).
 * The first guess it replaced (2e-2 … 1.5e-4) gave 0.63–0.90× the amortized bpp.
 */
import { NimgError } from '../../../errors.js';

/** λ at quality 1, 2, …, 8 */
export const LAMBDA_TABLE: readonly number[] = [1.3e-2, 6.4e-3, 3.0e-3, 1.5e-3, 7.7e-4, 4.2e-4, 2.2e-4, 1.0e-4];

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
