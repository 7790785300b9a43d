/**
 * What the per-image bench encodes: the λ of the Kodak curve and of the calibration photos,
 * the images of the encode-time table, the encoder recipe the rows are named after. Kept apart
 * from bench/perimage-queue.ts (a script that writes .gpu/queue.jsonl when it runs) so tests and
 * other scripts can import the plan without writing a queue.
 */

/** the calibration encodes of training photos (quality -> λ table; never Kodak) */
export const CALIB_LAMBDAS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4];
/** the Kodak curve: 6 rates of about 0.1-1.5 bpp, in the order a six-member group trains them */
export const KODAK_LAMBDAS = [1.5e-3, 5e-4, 4e-3, 1.5e-4, 1.2e-2, 3.5e-2];
/** diverse content for the rate vs encode-time table: texture, a face, edges, saturated colour */
export const EFFORT_IMAGES = ['kodim01.png', 'kodim04.png', 'kodim08.png', 'kodim23.png'];
/** the encoder recipe of the rows the queue makes (bench/perimage-rd-report.ts recipeOf: the encoder's defaults) */
export const RECIPE = 'r4';
