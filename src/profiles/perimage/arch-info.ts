/**
 * The architecture bytes at the start of a v2 params section (FORMAT.md §9.3), read in plain
 * TypeScript for probe(): synchronous and without the core. The core checks the same rules
 * again (and the rest of the section) when it decodes; here a malformed architecture is
 * CORRUPT_STREAM and a short section TRUNCATED→CORRUPT_STREAM, as the decoder reports them.
 */
import { NimgError } from '../../errors.js';
import type { PerImageArchInfo } from '../../api-types.js';
import { tensorSizes, type PerImageArch, type SynthesisLayer } from './types.js';
import { macsOf } from './core.js';

/** The format's bounds on a decoder (the core's MAX_PARAMS and MAX_MACS). */
export const PERIMAGE_MAX_PARAMS = 65536;
export const PERIMAGE_MAX_MACS_PER_PIXEL = 4096;

const corrupt = (msg: string): never => {
  throw new NimgError('CORRUPT_STREAM', `params section: ${msg}`);
};

/** Parse and check the architecture bytes of a params section. */
export function readArch(params: Uint8Array): PerImageArch {
  if (params.length < 5) corrupt(`${params.length} bytes, shorter than its architecture`);
  const [L, N, D, Wh, S] = params;
  if (L < 1 || L > 8) corrupt(`L = ${L} (1 … 8)`);
  if (N !== 8 && N !== 16 && N !== 24) corrupt(`N = ${N} (8, 16 or 24)`);
  if (D > 3) corrupt(`D = ${D} (0 … 3)`);
  if (Wh !== 8 && Wh !== 16 && Wh !== 24 && Wh !== 32) corrupt(`Wh = ${Wh} (8, 16, 24 or 32)`);
  if (S < 1 || S > 8) corrupt(`S = ${S} (1 … 8)`);
  if (params.length < 5 + 4 * S) corrupt(`${params.length} bytes, shorter than its ${S} synthesis layers`);
  const synthesis: SynthesisLayer[] = [];
  let c = L;
  for (let i = 0; i < S; i++) {
    const [kind, out, act, res] = params.subarray(5 + 4 * i, 9 + 4 * i);
    if (kind > 1 || act > 1 || res > 1) corrupt(`synthesis layer ${i}: kind ${kind}, act ${act}, residual ${res}`);
    if (out < 1 || out > 64 || (i === S - 1 && out !== 3)) corrupt(`synthesis layer ${i}: ${out} outputs`);
    if (res === 1 && out !== c) corrupt(`synthesis layer ${i}: residual with ${c} inputs and ${out} outputs`);
    synthesis.push({ kind: kind === 1 ? '3x3' : '1x1', out, act: act === 1 ? 'relu' : 'none', residual: res === 1 });
    c = out;
  }
  const arch: PerImageArch = { L, N, D, Wh, synthesis };
  const n = parameterCount(arch);
  if (n > PERIMAGE_MAX_PARAMS) corrupt(`${n} parameters (at most ${PERIMAGE_MAX_PARAMS})`);
  const macs = macsOf(arch);
  if (macs > PERIMAGE_MAX_MACS_PER_PIXEL) corrupt(`${macs} MAC/px (at most ${PERIMAGE_MAX_MACS_PER_PIXEL})`);
  return arch;
}

export function parameterCount(arch: PerImageArch): number {
  return tensorSizes(arch).reduce((s, n) => s + n, 0);
}

/** What probe() and `nimg info` report of a decoder. */
export function archInfo(arch: PerImageArch): PerImageArchInfo {
  let c = arch.L;
  const synthesis = arch.synthesis.map((l) => {
    const s = `${l.kind} ${c}→${l.out}${l.act === 'relu' ? ' relu' : ''}${l.residual ? ' residual' : ''}`;
    c = l.out;
    return s;
  });
  return {
    grids: arch.L,
    context: arch.N,
    armLayers: arch.D,
    armWidth: arch.Wh,
    synthesis,
    parameters: parameterCount(arch),
    macsPerPixel: macsOf(arch),
  };
}
