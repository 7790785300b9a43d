import { describe, expect, it } from 'vitest';
import { readRows, refineSvg, summarizeRefine, type RefineRow } from '../bench/refine-report.ts';

// a smooth per-image curve over 4 levels (Kodak-like values)
const LEVELS = [
  { q: 1, bpp: 0.11, psnr: 26.4 },
  { q: 3, bpp: 0.28, psnr: 29.9 },
  { q: 5, bpp: 0.62, psnr: 33.5 },
  { q: 7, bpp: 1.09, psnr: 36.3 },
];

function rows(image: string, refine: number, rateScale: number, dPsnr = 0, skipQ?: number): string {
  return LEVELS.filter((l) => l.q !== skipQ).map((l): string => {
    const r: RefineRow = {
      image, q: l.q, refine, bpp: l.bpp * rateScale, psnr: l.psnr + dPsnr, ms_ssim: 0.95,
      encode_ms: 1000 + refine, refine_ms: refine, backend: 'webgpu',
    };
    return JSON.stringify(r);
  }).join('\n');
}

describe('refine bench report', () => {
  it('keys rows by refine value and tag, skips log lines and keeps the first of a repeated row', () => {
    const text = ['== bench', rows('a.png', 0, 1), rows('a.png', 75, 0.9), rows('a.png', 75, 0.5)].join('\n');
    const r = readRows([{ text, tag: 'joint' }, { text: rows('a.png', 150, 0.8) }]);
    expect(new Set(r.map((x) => x.key))).toEqual(new Set(['refine0', 'refine75-joint', 'refine150']));
    // the repeated (image, level, key) kept its first row: rate ×0.9, not ×0.5
    expect(r.filter((x) => x.key === 'refine75-joint').map((x) => x.bpp)).toEqual(LEVELS.map((l) => l.bpp * 0.9));
  });

  it('measures BD-rate against the plain encoder, the peers and the published curves', () => {
    const plain = LEVELS.map((l) => ({ bpp: l.bpp, psnr: l.psnr, ms_ssim: 0.95 }));
    const peers = { webp: plain.map((p) => ({ ...p, bpp: p.bpp * 1.25 })) };
    const anchors = { webp: plain.map((p) => ({ bpp: p.bpp * 1.5, psnr: p.psnr })), vtm: plain.map((p) => ({ bpp: p.bpp * 0.8, psnr: p.psnr })) };
    const s = summarizeRefine([
      { text: [rows('a.png', 0, 1), rows('b.png', 0, 1)].join('\n') },
      { text: [rows('a.png', 150, 0.9), rows('b.png', 150, 0.9)].join('\n'), tag: 'joint' },
    ], peers, anchors);
    expect(s.images).toBe(2);
    expect(Object.keys(s.curves)).toEqual(['refine0', 'refine150-joint']);
    expect(s.bd_rate['refine150-joint'].psnr.refine0).toBeCloseTo(-0.1, 4);
    expect(s.bd_rate['refine150-joint'].psnr.webp).toBeCloseTo(0.9 / 1.25 - 1, 4);
    expect(s.bd_rate.refine0.psnr.webp).toBeCloseTo(1 / 1.25 - 1, 4);
    expect(s.bd_rate_psnr_vs_published['refine150-joint'].webp).toBeCloseTo(0.9 / 1.5 - 1, 4);
    expect(s.bd_rate_psnr_vs_published['refine150-joint'].vtm).toBeCloseTo(0.9 / 0.8 - 1, 4);
    expect(s.curves['refine150-joint'][0].median_refine_ms).toBe(150);

    // measured peers are drawn solid, published curves dashed and labelled as published
    const svg = refineSvg(s, peers, anchors);
    expect(svg).toContain('nimg refine 150-joint');
    expect(svg).toContain('WebP (published)');
    const dashedPaths = svg.split('\n').filter((l) => l.startsWith('<path') && l.includes('stroke-dasharray'));
    expect(dashedPaths.length).toBe(1); // the published WebP curve (vtm is not plotted)
  });

  it('averages only images present at every level of every curve', () => {
    const s = summarizeRefine([
      { text: [rows('a.png', 0, 1), rows('b.png', 0, 1, 1)].join('\n') },
      // b.png's refined run lacks level 5: b is left out of both curves
      { text: [rows('a.png', 75, 0.9), rows('b.png', 75, 0.9, 1, 5)].join('\n') },
    ], {}, {});
    expect(s.image_names).toEqual(['a.png']);
    expect(s.curves.refine0.map((p) => p.psnr)).toEqual(LEVELS.map((l) => l.psnr));
    expect(s.curves.refine75.every((p) => p.n_images === 1)).toBe(true);
  });
});
