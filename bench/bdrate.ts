/**
 * Bjøntegaard delta metrics (VCEG-M33; JVET-style piecewise-cubic variant).
 *
 * BD-rate: the average relative bitrate difference of `test` against `ref` at equal quality,
 * over the overlapping quality interval. Log-rate is modelled as a function of quality (PSNR in
 * dB, or MS-SSIM in dB = −10·log10(1 − ms)) by either
 *   - 'poly':  the classic least-squares cubic polynomial (degree min(3, n−1)), or
 *   - 'pchip': piecewise-cubic Hermite interpolation (Fritsch–Carlson, as scipy's
 *              PchipInterpolator), which is what JVET/AOM CTC tools use today;
 * both integrated exactly. Result is a fraction: −0.10 means `test` needs 10% fewer bits.
 *
 * BD-PSNR: the average quality difference (dB) at equal rate over the overlapping log-rate range.
 */

export interface RdPoint {
  bpp: number;
  psnr?: number | null;
  ms_ssim?: number | null;
}

export type BdMetric = 'psnr' | 'msssim';
export type BdMethod = 'poly' | 'pchip';

export function msssimToDb(ms: number): number {
  return -10 * Math.log10(Math.max(1 - ms, 1e-12));
}

function quality(p: RdPoint, metric: BdMetric): number | undefined {
  if (metric === 'psnr') return p.psnr ?? undefined;
  return p.ms_ssim == null ? undefined : msssimToDb(p.ms_ssim);
}

/** (x, y) pairs with x strictly increasing; duplicate x are averaged; non-finite dropped. */
function prepare(xs: number[], ys: number[]): { x: number[]; y: number[] } {
  const pairs = xs
    .map((x, i) => [x, ys[i]] as [number, number])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .sort((a, b) => a[0] - b[0]);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < pairs.length; ) {
    let j = i;
    let s = 0;
    while (j < pairs.length && pairs[j][0] === pairs[i][0]) s += pairs[j++][1];
    x.push(pairs[i][0]);
    y.push(s / (j - i));
    i = j;
  }
  return { x, y };
}

// ---------------------------------------------------------------------------------------------
// least-squares polynomial (on centred/scaled abscissa for conditioning)

interface Poly {
  coef: number[]; // in t = (x − mu) / sd, ascending powers
  mu: number;
  sd: number;
}

function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    if (Math.abs(M[c][c]) < 1e-300) throw new Error('singular system in polyfit');
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row, i) => row[n] / row[i]);
}

export function polyfit(xs: number[], ys: number[], degree: number): Poly {
  const n = xs.length;
  const mu = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / n) || 1;
  const ts = xs.map((x) => (x - mu) / sd);
  const m = degree + 1;
  const A = Array.from({ length: m }, () => new Array(m).fill(0));
  const b = new Array(m).fill(0);
  for (let i = 0; i < n; i++) {
    const pw = [1];
    for (let k = 1; k < 2 * m; k++) pw.push(pw[k - 1] * ts[i]);
    for (let r = 0; r < m; r++) {
      b[r] += pw[r] * ys[i];
      for (let c = 0; c < m; c++) A[r][c] += pw[r + c];
    }
  }
  return { coef: solve(A, b), mu, sd };
}

export function polyEval(p: Poly, x: number): number {
  const t = (x - p.mu) / p.sd;
  let v = 0;
  for (let k = p.coef.length - 1; k >= 0; k--) v = v * t + p.coef[k];
  return v;
}

function polyIntegral(p: Poly, a: number, b: number): number {
  const F = (x: number) => {
    const t = (x - p.mu) / p.sd;
    let v = 0;
    for (let k = p.coef.length - 1; k >= 0; k--) v = v * t + p.coef[k] / (k + 1);
    return v * t * p.sd;
  };
  return F(b) - F(a);
}

// ---------------------------------------------------------------------------------------------
// PCHIP (Fritsch–Carlson with scipy's end conditions)

interface Pchip {
  x: number[];
  y: number[];
  d: number[];
}

export function pchip(x: number[], y: number[]): Pchip {
  const n = x.length;
  if (n < 2) throw new Error('pchip needs ≥ 2 points');
  const h: number[] = [];
  const del: number[] = [];
  for (let k = 0; k < n - 1; k++) {
    h.push(x[k + 1] - x[k]);
    del.push((y[k + 1] - y[k]) / h[k]);
  }
  const d = new Array(n).fill(0);
  if (n === 2) {
    d[0] = d[1] = del[0];
    return { x, y, d };
  }
  for (let k = 1; k < n - 1; k++) {
    if (del[k - 1] === 0 || del[k] === 0 || Math.sign(del[k - 1]) !== Math.sign(del[k])) {
      d[k] = 0;
    } else {
      const w1 = 2 * h[k] + h[k - 1];
      const w2 = h[k] + 2 * h[k - 1];
      d[k] = (w1 + w2) / (w1 / del[k - 1] + w2 / del[k]);
    }
  }
  const edge = (h0: number, h1: number, m0: number, m1: number) => {
    let dd = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if (Math.sign(dd) !== Math.sign(m0)) dd = 0;
    else if (Math.sign(m0) !== Math.sign(m1) && Math.abs(dd) > Math.abs(3 * m0)) dd = 3 * m0;
    return dd;
  };
  d[0] = edge(h[0], h[1], del[0], del[1]);
  d[n - 1] = edge(h[n - 2], h[n - 3], del[n - 2], del[n - 3]);
  return { x, y, d };
}

function segment(p: Pchip, k: number) {
  const h = p.x[k + 1] - p.x[k];
  const delta = (p.y[k + 1] - p.y[k]) / h;
  const c2 = (3 * delta - 2 * p.d[k] - p.d[k + 1]) / h;
  const c3 = (p.d[k] + p.d[k + 1] - 2 * delta) / (h * h);
  return { x0: p.x[k], c0: p.y[k], c1: p.d[k], c2, c3 };
}

export function pchipEval(p: Pchip, x: number): number {
  let k = 0;
  while (k < p.x.length - 2 && x > p.x[k + 1]) k++;
  const s = segment(p, k);
  const t = x - s.x0;
  return s.c0 + t * (s.c1 + t * (s.c2 + t * s.c3));
}

function pchipIntegral(p: Pchip, a: number, b: number): number {
  let total = 0;
  for (let k = 0; k < p.x.length - 1; k++) {
    const lo = Math.max(a, p.x[k]);
    const hi = Math.min(b, p.x[k + 1]);
    if (hi <= lo) continue;
    const s = segment(p, k);
    const F = (x: number) => {
      const t = x - s.x0;
      return t * (s.c0 + t * (s.c1 / 2 + t * (s.c2 / 3 + (t * s.c3) / 4)));
    };
    total += F(hi) - F(lo);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------

function averageOver(
  x1: number[], y1: number[], x2: number[], y2: number[], method: BdMethod,
): { avgDiff: number; lo: number; hi: number } {
  const a = prepare(x1, y1);
  const b = prepare(x2, y2);
  if (a.x.length < 2 || b.x.length < 2) return { avgDiff: NaN, lo: NaN, hi: NaN };
  const lo = Math.max(a.x[0], b.x[0]);
  const hi = Math.min(a.x[a.x.length - 1], b.x[b.x.length - 1]);
  if (!(hi > lo)) return { avgDiff: NaN, lo, hi };
  let i1: number;
  let i2: number;
  if (method === 'poly') {
    // fit on the raw points (as VCEG-M33), degree limited by the number of points
    const f1 = polyfit(a.x, a.y, Math.min(3, a.x.length - 1));
    const f2 = polyfit(b.x, b.y, Math.min(3, b.x.length - 1));
    i1 = polyIntegral(f1, lo, hi);
    i2 = polyIntegral(f2, lo, hi);
  } else {
    i1 = pchipIntegral(pchip(a.x, a.y), lo, hi);
    i2 = pchipIntegral(pchip(b.x, b.y), lo, hi);
  }
  return { avgDiff: (i2 - i1) / (hi - lo), lo, hi };
}

export interface BdOptions {
  metric?: BdMetric;
  method?: BdMethod;
}

/** BD-rate of `test` relative to `ref` as a fraction (negative = fewer bits). NaN if no overlap. */
export function bdRate(ref: RdPoint[], test: RdPoint[], opts: BdOptions = {}): number {
  return bdRateDetail(ref, test, opts).bdRate;
}

export function bdRateDetail(ref: RdPoint[], test: RdPoint[], opts: BdOptions = {}) {
  const metric = opts.metric ?? 'psnr';
  const method = opts.method ?? 'poly';
  const r = ref.filter((p) => p.bpp > 0 && quality(p, metric) !== undefined);
  const t = test.filter((p) => p.bpp > 0 && quality(p, metric) !== undefined);
  const { avgDiff, lo, hi } = averageOver(
    r.map((p) => quality(p, metric)!), r.map((p) => Math.log(p.bpp)),
    t.map((p) => quality(p, metric)!), t.map((p) => Math.log(p.bpp)),
    method,
  );
  return { bdRate: Math.exp(avgDiff) - 1, qualityRange: [lo, hi] as [number, number], metric, method };
}

/** BD-PSNR (or BD-MS-SSIM-dB): mean quality gain in dB of `test` over `ref` at equal rate. */
export function bdQuality(ref: RdPoint[], test: RdPoint[], opts: BdOptions = {}): number {
  const metric = opts.metric ?? 'psnr';
  const method = opts.method ?? 'poly';
  const r = ref.filter((p) => p.bpp > 0 && quality(p, metric) !== undefined);
  const t = test.filter((p) => p.bpp > 0 && quality(p, metric) !== undefined);
  return averageOver(
    r.map((p) => Math.log(p.bpp)), r.map((p) => quality(p, metric)!),
    t.map((p) => Math.log(p.bpp)), t.map((p) => quality(p, metric)!),
    method,
  ).avgDiff;
}
