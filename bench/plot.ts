/** Hand-written SVG rate-distortion plot: PSNR (RGB) vs bpp. */
import type { RdPoint } from './bdrate.ts';

export interface Series {
  name: string;
  points: RdPoint[];
  dashed?: boolean;
  color: string;
}

const PALETTE: Record<string, string> = {
  nimg: '#d62728',
  webp: '#1f77b4',
  jpeg: '#7f7f7f',
  avif: '#2ca02c',
  avif444: '#17becf',
  jxl: '#9467bd',
};
const ANCHOR_COLORS = ['#ff7f0e', '#8c564b', '#e377c2', '#bcbd22', '#1f3f7f', '#6b8e23', '#b22222', '#4b0082'];

export function colorFor(name: string, i: number, anchor: boolean): string {
  if (!anchor && PALETTE[name]) return PALETTE[name];
  if (!anchor && name.startsWith('nimg')) return PALETTE.nimg;
  return ANCHOR_COLORS[i % ANCHOR_COLORS.length];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface PlotOptions {
  title: string;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  /** 'psnr' (default) or 'msssim' (plotted in dB: −10·log10(1 − ms)) */
  metric?: 'psnr' | 'msssim';
}

export function rdSvg(series: Series[], opts: PlotOptions): string {
  const metric = opts.metric ?? 'psnr';
  const qv = (p: RdPoint): number | null =>
    metric === 'psnr' ? (p.psnr ?? null) : p.ms_ssim == null ? null : -10 * Math.log10(Math.max(1 - p.ms_ssim, 1e-12));
  const yLabel = metric === 'psnr' ? 'PSNR (RGB) [dB]' : 'MS-SSIM (RGB) [dB] = −10·log10(1 − MS-SSIM)';
  const W = 900;
  const H = 620;
  const m = { l: 64, r: 230, t: 40, b: 52 };
  const xMax = opts.xMax ?? 2;
  const inRange = series.flatMap((s) => s.points.filter((p) => p.bpp <= xMax && qv(p) != null).map((p) => qv(p)!));
  const yMin = opts.yMin ?? Math.floor(Math.min(...inRange) - 0.5);
  const yMax = opts.yMax ?? Math.ceil(Math.max(...inRange) + 0.5);
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const X = (v: number) => m.l + (v / xMax) * pw;
  const Y = (v: number) => m.t + (1 - (v - yMin) / (yMax - yMin)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  out.push(`<defs><clipPath id="plot"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  // grid + ticks
  for (let x = 0; x <= xMax + 1e-9; x += 0.25) {
    out.push(`<line x1="${X(x)}" y1="${m.t}" x2="${X(x)}" y2="${m.t + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${X(x)}" y="${m.t + ph + 16}" text-anchor="middle">${x.toFixed(2)}</text>`);
  }
  for (let y = Math.ceil(yMin); y <= yMax; y += 1) {
    out.push(`<line x1="${m.l}" y1="${Y(y)}" x2="${m.l + pw}" y2="${Y(y)}" stroke="#e5e5e5"/>`);
    if ((y - Math.ceil(yMin)) % 2 === 0) out.push(`<text x="${m.l - 8}" y="${Y(y) + 4}" text-anchor="end">${y}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">bits per pixel</text>`);
  out.push(`<text transform="translate(18 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  // series
  out.push(`<g clip-path="url(#plot)">`);
  // measured nimg curves last (on top) and bolder
  const isNimg = (s: Series) => !s.dashed && s.name.startsWith('nimg');
  const drawOrder = [...series.filter((s) => !isNimg(s)), ...series.filter(isNimg)];
  for (const s of drawOrder) {
    const pts = s.points.filter((p) => qv(p) != null && Number.isFinite(qv(p)!) && p.bpp > 0).sort((a, b) => a.bpp - b.bpp);
    if (!pts.length) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.bpp).toFixed(1)},${Y(qv(p)!).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 1.5 : isNimg(s) ? 3 : 2.2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!s.dashed) for (const p of pts) out.push(`<circle cx="${X(p.bpp).toFixed(1)}" cy="${Y(qv(p)!).toFixed(1)}" r="2.6" fill="${s.color}"/>`);
  }
  out.push(`</g>`);
  // legend
  let ly = m.t + 8;
  const lx = m.l + pw + 16;
  for (const s of series) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 34}" y="${ly + 4}" font-size="11">${esc(s.name)}</text>`);
    ly += 18;
  }
  out.push(`<text x="${lx}" y="${ly + 10}" font-size="10" fill="#555">solid: measured in this bench</text>`);
  out.push(`<text x="${lx}" y="${ly + 24}" font-size="10" fill="#555">dashed: published (anchors)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
