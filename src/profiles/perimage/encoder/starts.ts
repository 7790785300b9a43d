/**
 * Best of K starts: which initialisation the encoder trains from.
 *
 * Why: the seed of the initialisation moves the result. On a 128x128 training crop at 1000
 * steps, four seeds spread by up to ~8% of bits at equal PSNR (bench/results/perimage-gpu/
 * NOTES.md, "How far do seeds spread?"). On WebGPU a training step of K models costs far
 * less than K steps (train-batch.ts), so K candidate starts can be tried side by side in a
 * short warm-up and the best one trained in full.
 *
 * How: the candidates are initTheta with seeds seed, seed+1, …, seed+K−1 (candidate 0 is the
 * start a single-start encode uses), trained together by trainBatch at one λ for
 * warmupSteps(steps) steps with the full run's recipe compressed into those steps and one
 * noise sequence for all (the candidates differ by their start only). The lowest final loss
 * (mse + λ·bits/(H·W), rounded latents: the warm-up ends in the straight-through phase) wins.
 * The full run then starts from the winner's initialisation; its noise still follows the
 * caller's seed.
 *
 * A study option (PerImageEncodeOptions.starts, default 1: no warm-up): whether a warm-up's
 * ranking holds to the end of a full run is what the studies measure.
 */
import type { Layout } from './model.js';
import { initTheta } from './model.js';
import { trainBatch } from './train-batch.js';
import type { TrainSettings } from './train.js';

/** the most candidates one encode tries */
export const MAX_STARTS = 8;
/** the warm-up's share of the full run's steps */
export const WARMUP_FRACTION = 1 / 8;

/** Steps of the warm-up for a full run of `steps` (at least 1). */
export const warmupSteps = (steps: number): number => Math.max(1, Math.round(steps * WARMUP_FRACTION));

export interface StartChoice {
  /** seed of the winning initialisation (initTheta's seed) */
  seed: number;
  /** its initial parameters */
  theta0: Float32Array;
  /** final warm-up loss of each candidate, in seed order */
  losses: number[];
}

/**
 * Train `starts` candidate initialisations for warmupSteps(settings.steps) steps at λ and
 * return the one with the lowest final loss.
 * REQUIRES: 2 <= starts <= MAX_STARTS; settings as train()'s (its steps: the FULL run's).
 */
export async function chooseStart(
  lay: Layout, target: Float32Array, meanRgb: readonly number[], synHiddenBias: number, starts: number,
  settings: Omit<TrainSettings, 'onProgress'>,
): Promise<StartChoice> {
  const seeds = Array.from({ length: starts }, (_, k) => (settings.seed + k) >>> 0);
  const thetas = seeds.map((s) => initTheta(lay, s, meanRgb, synHiddenBias));
  const steps = warmupSteps(settings.steps);
  const sts = await trainBatch(lay, target, thetas, seeds.map(() => new Float32Array(lay.Hc * lay.Wc)), {
    ...settings, steps, lambdas: seeds.map(() => settings.lambda),
    // only the last step's loss is read; the warm-up's own best-of-phase-2 is not wanted
    progressEvery: steps, bestEvery: 0,
  });
  const losses = sts.map((s) => s.history[s.history.length - 1].loss);
  let k = 0;
  for (let j = 1; j < starts; j++) if (losses[j] < losses[k]) k = j;
  return { seed: seeds[k], theta0: thetas[k], losses };
}
