/** Result types, merging of per-codec results, BD-rate summaries and text tables. */
import os from 'node:os';
import { bdQuality, bdRate, type RdPoint } from './bdrate.ts';

export interface CurvePoint {
  quality_setting: number;
  bpp: number;
  psnr: number;
  ms_ssim: number;
  ms_ssim_db: number;
  n_images: number;
}

export interface CodecRdMeta {
  settings: string;
  images: number;
  image_set: string;
  date: string;
  seconds: number;
}

export interface BdTable {
  psnr: Record<string, number | null>;
  psnr_pchip: Record<string, number | null>;
  msssim: Record<string, number | null>;
  msssim_pchip: Record<string, number | null>;
  bd_psnr_db: Record<string, number | null>;
}

export interface RdReport {
  /** whose BD-rates bd_rate_* are: nimg against each peer (keys = peers; null until nimg is measured) */
  subject: string;
  bd_rate_psnr: Record<string, number | null>;
  bd_rate_psnr_pchip: Record<string, number | null>;
  bd_rate_msssim: Record<string, number | null>;
  bd_rate_msssim_pchip: Record<string, number | null>;
  bd_psnr_db: Record<string, number | null>;
  /** every measured codec against the reference (WebP measured in the same bench) */
  reference: string;
  bd_rate_vs_reference: BdTable;
  curves: Record<string, CurvePoint[]>;
  codecs: Record<string, CodecRdMeta>;
  anchors_check: Record<string, AnchorCheck>;
  vs_anchors: Record<string, Record<string, number | null>>;
  anchors_vs_reference: Record<string, number | null>;
  missing: Record<string, string>;
  metrics: string;
  machine: MachineInfo;
  date: string;
}

export interface AnchorCheck {
  anchor: string;
  bd_rate_psnr: number | null;
  bd_rate_psnr_pchip: number | null;
  bd_rate_msssim: number | null;
  bd_rate_msssim_pchip: number | null;
}

export interface SpeedEntry {
  settings: string;
  quality_setting: number;
  bpp: number;
  psnr: number;
  images: number;
  runs_per_image: number;
  encode_ms_median: number;
  decode_ms_median: number;
  encode_ms_mean: number;
  decode_ms_mean: number;
  encode_mpix_per_s: number;
  decode_mpix_per_s: number;
  max_rss_mb_after: number;
  rss_mb_after: number;
  encode_stages_ms?: Record<string, number>;
  decode_stages_ms?: Record<string, number>;
  date: string;
}

export interface SpeedReport {
  reference: string;
  codecs: Record<string, SpeedEntry>;
  ratios: Record<string, Record<string, { encode: number; decode: number }>>;
  baseline_max_rss_mb: number;
  notes: string;
  missing: Record<string, string>;
  machine: MachineInfo;
  date: string;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  mem_gb: number;
  loadavg_when_written: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    mem_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg_when_written: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

export const METRICS_NOTE =
  'bpp = file bytes*8/pixels; PSNR on 8-bit RGB (MSE over R,G,B jointly), MS-SSIM = 5-scale Wang et al. ' +
  '(11x11 Gaussian sigma 1.5, valid filtering, 2x2 average downsampling, weights [0.0448,0.2856,0.3001,0.2363,0.1333]) ' +
  'per RGB channel then mean over channels (as CompressAI); per-image values averaged over images (PSNR in dB, MS-SSIM linear). ' +
  'BD-rates are fractions (-0.1 = 10% fewer bits) vs the reference codec measured in the same benchmark; ' +
  "MS-SSIM BD uses -10*log10(1-ms); 'poly' = classic cubic fit of ln(bpp) vs quality, 'pchip' = piecewise cubic Hermite.";

export const PEER_KEYS = ['webp', 'avif', 'avif444', 'jpeg', 'jxl'];

/** Published counterparts of the peers (cross-check). */
export const ANCHOR_OF: Record<string, string> = { webp: 'webp', avif: 'av1', avif444: 'av1', jpeg: 'jpeg' };

export { ANCHOR_LABELS, ANCHOR_SET, loadAnchors, type Anchors } from './anchors.ts';
import { ANCHOR_SET, type Anchors } from './anchors.ts';

const fin = (v: number) => (Number.isFinite(v) ? v : null);
const round = (v: number | null, d = 5) => (v == null ? null : Math.round(v * 10 ** d) / 10 ** d);

export function summarizeRd(
  curves: Record<string, CurvePoint[]>,
  codecs: Record<string, CodecRdMeta>,
  anchors: Anchors,
  missing: Record<string, string>,
  reference = 'webp',
  subject = 'nimg',
): RdReport {
  // canonical order: nimg variants first, then the peers from weakest to strongest, anything else last
  const ORDER = ['jpeg', 'webp', 'jxl', 'avif', 'avif444'];
  const rank = (n: string) => (n.startsWith('nimg') ? -1 : ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  curves = Object.fromEntries(Object.entries(curves).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)));
  const ref = curves[reference];
  const bd = (m: 'psnr' | 'msssim', method: 'poly' | 'pchip') => {
    const out: Record<string, number | null> = {};
    for (const [name, c] of Object.entries(curves)) out[name] = ref ? round(fin(bdRate(ref, c, { metric: m, method }))) : null;
    return out;
  };
  const bdPsnr: Record<string, number | null> = {};
  for (const [name, c] of Object.entries(curves)) bdPsnr[name] = ref ? round(fin(bdQuality(ref, c)), 4) : null;
  // subject (nimg) against each peer
  const subj = curves[subject];
  const peers = PEER_KEYS.filter((p) => curves[p] || p === reference);
  const vsPeers = (m: 'psnr' | 'msssim', method: 'poly' | 'pchip') =>
    Object.fromEntries(peers.map((p) => [p, subj && curves[p] ? round(fin(bdRate(curves[p], subj, { metric: m, method }))) : null]));
  const bdPsnrVsPeers = Object.fromEntries(peers.map((p) => [p, subj && curves[p] ? round(fin(bdQuality(curves[p], subj)), 4) : null]));

  const anchorsCheck: Record<string, AnchorCheck> = {};
  for (const [name, a] of Object.entries(ANCHOR_OF)) {
    const c = curves[name];
    const an = anchors[a];
    if (!c || !an) continue;
    anchorsCheck[name] = {
      anchor: a,
      bd_rate_psnr: round(fin(bdRate(an, c, { metric: 'psnr', method: 'poly' }))),
      bd_rate_psnr_pchip: round(fin(bdRate(an, c, { metric: 'psnr', method: 'pchip' }))),
      bd_rate_msssim: round(fin(bdRate(an, c, { metric: 'msssim', method: 'poly' }))),
      bd_rate_msssim_pchip: round(fin(bdRate(an, c, { metric: 'msssim', method: 'pchip' }))),
    };
  }
  const vsAnchors: Record<string, Record<string, number | null>> = {};
  for (const [name, c] of Object.entries(curves)) {
    vsAnchors[name] = {};
    for (const a of ANCHOR_SET) if (anchors[a]) vsAnchors[name][a] = round(fin(bdRate(anchors[a], c)));
  }
  const anchorsVsRef: Record<string, number | null> = {};
  if (ref) for (const a of ANCHOR_SET) if (anchors[a]) anchorsVsRef[a] = round(fin(bdRate(ref, anchors[a])));

  return {
    subject,
    bd_rate_psnr: vsPeers('psnr', 'poly'),
    bd_rate_psnr_pchip: vsPeers('psnr', 'pchip'),
    bd_rate_msssim: vsPeers('msssim', 'poly'),
    bd_rate_msssim_pchip: vsPeers('msssim', 'pchip'),
    bd_psnr_db: bdPsnrVsPeers,
    reference,
    bd_rate_vs_reference: {
      psnr: bd('psnr', 'poly'),
      psnr_pchip: bd('psnr', 'pchip'),
      msssim: bd('msssim', 'poly'),
      msssim_pchip: bd('msssim', 'pchip'),
      bd_psnr_db: bdPsnr,
    },
    curves,
    codecs,
    anchors_check: anchorsCheck,
    vs_anchors: vsAnchors,
    anchors_vs_reference: anchorsVsRef,
    missing,
    metrics: METRICS_NOTE,
    machine: machineInfo(),
    date: new Date().toISOString(),
  };
}

export function speedRatios(codecs: Record<string, SpeedEntry>): SpeedReport['ratios'] {
  // every codec relative to every peer: time(codec) / time(peer); > 1 = slower than the peer
  const out: SpeedReport['ratios'] = {};
  for (const [a, ea] of Object.entries(codecs)) {
    out[a] = {};
    for (const [b, eb] of Object.entries(codecs)) {
      if (a === b) continue;
      out[a][b] = {
        encode: Math.round((ea.encode_ms_median / eb.encode_ms_median) * 1000) / 1000,
        decode: Math.round((ea.decode_ms_median / eb.decode_ms_median) * 1000) / 1000,
      };
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tables

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(cells[0]), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const pct = (v: number | null | undefined) => (v == null ? 'n/a' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);

export function rdTable(r: RdReport, only?: string[]): string {
  const names = Object.keys(r.curves).filter((n) => !only || only.includes(n));
  const rows = names.map((n) => {
    const c = r.curves[n];
    const ac = r.anchors_check[n];
    return [
      n,
      c.length,
      `${Math.min(...c.map((p) => p.bpp)).toFixed(3)}–${Math.max(...c.map((p) => p.bpp)).toFixed(2)}`,
      pct(r.bd_rate_vs_reference.psnr[n]),
      pct(r.bd_rate_vs_reference.psnr_pchip[n]),
      pct(r.bd_rate_vs_reference.msssim[n]),
      r.bd_rate_vs_reference.bd_psnr_db[n] == null ? 'n/a' : r.bd_rate_vs_reference.bd_psnr_db[n]!.toFixed(2),
      ac ? `${pct(ac.bd_rate_psnr)} vs ${ac.anchor}` : '',
      r.codecs[n]?.images ?? '',
    ];
  });
  let text = table(
    ['codec', 'pts', 'bpp range', `BD-rate PSNR vs ${r.reference}`, '(pchip)', 'BD-rate MS-SSIM', 'BD-PSNR dB', 'vs published', 'imgs'],
    rows,
  );
  if (r.curves[r.subject]) {
    const peers = Object.keys(r.bd_rate_psnr).filter((p) => r.bd_rate_psnr[p] != null);
    text +=
      `\n\n${r.subject} against each peer (BD-rate, negative = ${r.subject} needs fewer bits):\n` +
      table(
        ['peer', 'PSNR (poly)', 'PSNR (pchip)', 'MS-SSIM (poly)', 'MS-SSIM (pchip)', 'BD-PSNR dB'],
        peers.map((p) => [p, pct(r.bd_rate_psnr[p]), pct(r.bd_rate_psnr_pchip[p]), pct(r.bd_rate_msssim[p]), pct(r.bd_rate_msssim_pchip[p]), r.bd_psnr_db[p]?.toFixed(2) ?? 'n/a']),
      );
  }
  return text;
}

export function speedTable(s: SpeedReport, only?: string[]): string {
  const names = Object.keys(s.codecs).filter((n) => !only || only.includes(n));
  const ref = s.codecs[s.reference] ? s.reference : undefined;
  const rows = names.map((n) => {
    const e = s.codecs[n];
    const rr = ref && n !== ref ? s.ratios[n]?.[ref] : undefined;
    return [
      n,
      e.quality_setting,
      e.bpp.toFixed(3),
      e.psnr.toFixed(2),
      e.encode_ms_median.toFixed(1),
      e.decode_ms_median.toFixed(1),
      rr ? `${rr.encode.toFixed(2)}x / ${rr.decode.toFixed(2)}x` : n === ref ? '1x / 1x' : 'n/a',
      e.max_rss_mb_after.toFixed(0),
    ];
  });
  return table(['codec', 'q', 'bpp', 'PSNR', 'enc ms', 'dec ms', `time vs ${s.reference} (enc/dec)`, 'maxRSS MB'], rows);
}
