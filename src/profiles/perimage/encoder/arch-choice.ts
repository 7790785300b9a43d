/**
 * Which decoder a file carries: the encoder's choice of architecture by image size and λ.
 *
 * The decoder's parameters are a fixed cost per file (~1.1–1.7 KB for the default
 * architecture, ~0.3–0.5 KB for the compact one), while the latents' cost grows with the
 * pixels. On a Kodak-sized photo the default's parameters are 2–30% of the file and its
 * stronger context model and synthesis pay for them at every rate; on a small image at a low
 * rate its parameters are most of the file and a smaller decoder wins by far.
 * Measured with the PyTorch reference (train/perimage/sweep.py, recipe r4, 2000 steps, 256x256
 * crops of two BSDS500 training photos; bench/results/perimage-gpu/NOTES.md "Decoder size by
 * image size"), net saving of the compact decoder at equal PSNR (negative: it loses):
 *     λ            1.5e-4   5e-4   1.5e-3   4e-3   1.2e-2   3.5e-2
 *     100075       −5%      −6%    −2%      +9%    +31%     +37%
 *     145014        ·        ·     −14%     −4%    +12%     +23%
 * With the parameters' cost scaled to 768x512 the default wins at every λ of both (BD-rate
 * of the compact decoder +19% on 100075). The rule puts the crossover at COMPACT_LAMBDA_64K
 * for 65,536 pixels, on the safe side of both photos, and moves it up as
 * (pixels / 65,536)^COMPACT_EXPONENT (the scaled runs cross between 1.2e-2 and 3.5e-2 at
 * 154k pixels, and above 3.5e-2 at 393k): 1.8e-2 at 481x321, 7.3e-2 at 768x512, so Kodak-sized
 * photos keep the default decoder at every quality.
 * The choice is the encoder's alone: the file carries its architecture (FORMAT.md §9).
 */
import { defaultArch, type PerImageArch } from '../types.js';

/** A decoder of 362 MAC/px (FORMAT.md §9 count) and ~400 parameters: ARM 8 → 8 → 2, synthesis 12 → 3 + two 3x3 residuals. */
export function compactArch(): PerImageArch {
  return {
    L: 7,
    N: 8,
    D: 1,
    Wh: 8,
    synthesis: [
      { kind: '1x1', out: 12, act: 'relu', residual: false },
      { kind: '1x1', out: 3, act: 'none', residual: false },
      { kind: '3x3', out: 3, act: 'relu', residual: true },
      { kind: '3x3', out: 3, act: 'none', residual: true },
    ],
  };
}

/** the λ above which a 65,536-pixel image gets the compact decoder */
export const COMPACT_LAMBDA_64K = 5e-3;
/** how fast that λ rises with the pixel count */
export const COMPACT_EXPONENT = 1.5;

/** 'default' | 'compact': the architecture the encoder uses for `pixels` pixels at `lambda` */
export function chooseArchName(pixels: number, lambda: number): 'default' | 'compact' {
  return lambda >= COMPACT_LAMBDA_64K * (pixels / 65536) ** COMPACT_EXPONENT ? 'compact' : 'default';
}

/** the architecture of a name archName gives (not 'custom') */
export function archOfName(name: 'default' | 'compact'): PerImageArch {
  return name === 'compact' ? compactArch() : defaultArch();
}

export function chooseArch(pixels: number, lambda: number): PerImageArch {
  return archOfName(chooseArchName(pixels, lambda));
}

/** the name of an architecture: 'default', 'compact', or 'custom' for any other */
export function archName(arch: PerImageArch): 'default' | 'compact' | 'custom' {
  const same = (a: PerImageArch, b: PerImageArch) =>
    a.L === b.L && a.N === b.N && a.D === b.D && a.Wh === b.Wh && a.synthesis.length === b.synthesis.length &&
    a.synthesis.every((l, i) => {
      const m = b.synthesis[i];
      return l.kind === m.kind && l.out === m.out && l.act === m.act && l.residual === m.residual;
    });
  if (same(arch, defaultArch())) return 'default';
  if (same(arch, compactArch())) return 'compact';
  return 'custom';
}
