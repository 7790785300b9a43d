/**
 * The published Kodak curves (../shared/anchors/kodak_anchors.json) that the benches compare
 * with, and their plot labels. No imports beyond node:fs, so the GPU payload can carry it.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { RdPoint } from './bdrate.js';

/** Published curves every measured codec is compared with. */
export const ANCHOR_SET = [
  'webp',
  'jpeg',
  'av1',
  'bpg_444_x265_ycbcr',
  'vtm',
  'compressai-bmshj2018-factorized_mse_cuda',
  'compressai-bmshj2018-hyperprior_mse_cuda',
  'compressai-mbt2018-mean_mse_cuda',
  'paper-minnen2020-cc10_mse',
  'paper-elic2022_mse',
  'coolchic-v5.0',
];

/** Published curves drawn on the plots, with their legend labels. */
export const ANCHOR_LABELS: Record<string, string> = {
  av1: 'AV1 / libaom (published)',
  webp: 'WebP (published)',
  'compressai-bmshj2018-hyperprior_mse_cuda': 'Ballé 2018 hyperprior',
  'compressai-mbt2018-mean_mse_cuda': 'Minnen 2018 mean-scale',
  'paper-minnen2020-cc10_mse': 'Minnen 2020 channel-AR',
  'paper-elic2022_mse': 'ELIC 2022',
  'coolchic-v5.0': 'Cool-chic v5.0',
};

export type Anchors = Record<string, RdPoint[]>;

export function loadAnchors(file: string): Anchors {
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8'));
}
