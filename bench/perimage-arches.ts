/**
 * Decoder architectures for studies of the per-image profile (bench/perimage-queue.ts
 * --arch-study): larger context models and syntheses than the encoder's default, all
 * within the issue's 3k MAC/px (FORMAT.md §9 count: the ARM's MACs per latent plus the
 * synthesis's per pixel; the default decoder is 544 + 978 = 1522). Why: on Kodak the default decoder loses most to
 * AVIF at high rates and on smooth images (bench/results/perimage-gpu/NOTES.md,
 * 2026-12-07 fifth), which points at capacity, not at the parameters' cost.
 */
import { defaultArch, type PerImageArch, type SynthesisLayer } from '../src/profiles/perimage/types.js';

const residuals: SynthesisLayer[] = [
  { kind: '3x3', out: 3, act: 'relu', residual: true },
  { kind: '3x3', out: 3, act: 'none', residual: true },
];
/** a synthesis of 1x1 ReLU layers of these widths, the linear layer to RGB, then the two 3x3 residual layers */
export const synth = (...hidden: number[]): SynthesisLayer[] => [
  ...hidden.map((out): SynthesisLayer => ({ kind: '1x1', out, act: 'relu', residual: false })),
  { kind: '1x1', out: 3, act: 'none', residual: false },
  ...residuals,
];

export const STUDY_ARCHES: Readonly<Record<string, PerImageArch>> = Object.freeze({
  /** Cool-chic 4's largest published shape (cfg/dec/hop.cfg): context 24, 2 × 24 hidden, synthesis L→40→3; 1200 + 562 = 1762 MAC/px */
  wide: { ...defaultArch(), N: 24, Wh: 24, synthesis: synth(40) },
  /** the default's synthesis with the wide context model (which of the two parts pays); 1200 + 978 = 2178 MAC/px */
  arm24: { ...defaultArch(), N: 24, Wh: 24 },
  /** the default's context model with a wider synthesis L→32→32→3; 544 + 1506 = 2050 MAC/px */
  syn32: { ...defaultArch(), synthesis: synth(32, 32) },
  /**
   * the default's context model with Cool-chic's synthesis shape, ONE hidden layer L→40→3;
   * 544 + 562 = 1106 MAC/px, fewer than the default. Why: the default's second hidden layer (24→24 ReLU)
   * has 2–14 of its 24 channels dead in every Kodak file at the default effort
   * (bench/perimage-dead-units.ts), and the default collapsed on a smooth training crop where
   * `wide` (one hidden layer) did not (NOTES.md, 2026-12-07 fifth)
   */
  syn40: { ...defaultArch(), synthesis: synth(40) },
});
