/**
 * What the per-image Kodak benches agree on about rows (bench/results/perimage-rows/NAME.json):
 * a row's encoder recipe, and which curve (one number of steps with one recipe) is the
 * headline one. perimage-rd-report.ts reports that curve's BD-rates as the profile's;
 * perimage-midrate.ts names its λ = 1.5e-3 files kodimNN.nimg, the mid-rate set the CPU
 * speed bench decodes. One rule for both, so the files timed are the files reported.
 */

/** the training settings a row records (absent in rows made before they were recorded) */
export interface RecipeFields { bestEvery?: number; steLatentScale?: number; log2bGrad?: string; fineScales?: boolean; soap?: string | null }

/**
 * The encoder recipe of a row: r1 = phase 2 moves the latents and the encoder returns the last
 * parameters (every row made before the fix of 2026-12-06, which recorded no bestEvery); r2 =
 * the latents stay fixed in phase 2 and the best parameters of phase 2 are kept (train.ts);
 * r3 = r2 with the ARM's log2 b clamp passing the gradient that points back into the range
 * (forward.ts clampLog2b; rows record log2bGrad 'inward'); r4 = r3 in files with the full
 * scale set (container flag FINE_SCALES; rows record fineScales true), trained with the base
 * floor in phase 1 and the file's in phase 2 (rows record phase1Log2bMin -3); r5 = r4 with the
 * weight matrices trained by SOAP (encoder/soap.ts; rows record soap: the networks, e.g. 'syn').
 */
export function recipeOf(r: RecipeFields): 'r1' | 'r2' | 'r3' | 'r4' | 'r5' {
  if (!((r.bestEvery ?? 0) > 0 && (r.steLatentScale ?? 1) === 0)) return 'r1';
  if (r.log2bGrad !== 'inward') return 'r2';
  if (r.fineScales !== true) return 'r3';
  return r.soap ? 'r5' : 'r4';
}

/** a curve: one number of steps with one recipe */
export const curveName = (steps: number, recipe: string): string => `${steps} steps ${recipe}`;

/** The headline order of curves: most images first, then the newer recipe, then more steps. */
export function headlineFirst(a: CurveKey, b: CurveKey): number {
  return b.n_images - a.n_images || b.recipe.localeCompare(a.recipe) || b.steps - a.steps;
}
export interface CurveKey { n_images: number; recipe: string; steps: number }
