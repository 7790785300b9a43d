/**
 * Structure-aware mutations of per-image (.nimg container v2) files: SPEC.md §3 and
 * src/profiles/perimage/container.ts. Each mutates one part — the architecture bytes, the
 * per-tensor (exponent, table) pairs, the params rANS stream or its length word, the latent
 * stream, the header's lengths and sizes — and then repairs the header CRC and the payload CRC
 * (and, unless the mutation is about them, the section lengths), so the input passes the
 * container and reaches the core's params parser, the rANS decoders, the ARM and the
 * synthesis. `pi-raw` leaves the CRCs alone.
 *
 * Two mutators build *valid* files instead of damaged ones, with a core of their own (not the
 * decoder under test): `pi-weights` decodes a seed, replaces parameters with extreme values
 * that the format still allows (|k| = 2^20 at exponent 0, ARM weights ±1023, biases ±2^20,
 * exponents 24 / 8), and re-encodes the params and the seed's grids; `pi-regen` makes a new
 * random architecture and parameters for the seed's size. Their files decode to OK (or, for
 * a grid the new ARM cannot code, are left as the seed): the synthesis meets ±Inf, NaN and
 * subnormal floats, the ARM its clamps.
 */
import { PERIMAGE_HEADER_SIZE } from '../src/profiles/perimage/container.js';
import type { PerImageCore } from '../src/profiles/perimage/core.js';
import type { PerImageParams } from '../src/profiles/perimage/types.js';
import { randomArch, randomGrids, randomParams } from '../test/fixtures/perimage-random.js';
import { havoc, resealCrcs, splitSections } from './bytes.js';
import type { Mutator } from './mutator.js';
import type { Rng } from './rng.js';

const H = PERIMAGE_HEADER_SIZE;

export interface PiParts {
  header: Uint8Array;
  params: Uint8Array;
  latents: Uint8Array;
  alpha: Uint8Array;
}

/** Split a v2 file into header and sections (lengths at 24, 28, 32; tolerant of a mutated one). */
export function splitPerImage(input: Uint8Array): PiParts {
  const { header, sections: [params, latents, alpha] } = splitSections(input, H, [24, 28, 32]);
  return { header, params, latents, alpha };
}

/** Recompute the payload CRC (@40) and the header CRC (@44), whatever the fields say. */
export const resealPerImage = (o: Uint8Array): Uint8Array => resealCrcs(o, H, 40, 44);

/** Reassemble: lengths and the alpha flag from the sections (unless kept), CRCs recomputed. */
export function joinPerImage(p: PiParts, opts: { keepLengths?: boolean; keepFlags?: boolean } = {}): Uint8Array {
  const o = new Uint8Array(H + p.params.length + p.latents.length + p.alpha.length);
  o.set(p.header.subarray(0, H));
  const dv = new DataView(o.buffer);
  if (!opts.keepLengths) {
    dv.setUint32(24, p.params.length, true);
    dv.setUint32(28, p.latents.length, true);
    dv.setUint32(32, p.alpha.length, true);
  }
  if (!opts.keepFlags) o[9] = (o[9] & ~1) | (p.alpha.length > 0 ? 1 : 0);
  o.set(p.params, H);
  o.set(p.latents, H + p.params.length);
  o.set(p.alpha, H + p.params.length + p.latents.length);
  return resealPerImage(o);
}

/** Layout of a params section as its bytes say (SPEC §3): where the (e, s) pairs and the stream are. */
export function paramsLayout(b: Uint8Array): { S: number; T: number; pairs: number; lenAt: number; streamAt: number } {
  const D = Math.min(b[2] ?? 0, 3);
  const S = b[4] ?? 0;
  const T = 2 * (D + 1) + 1 + 2 * S;
  const pairs = 5 + 4 * S;
  const lenAt = pairs + 2 * T;
  return { S, T, pairs, lenAt, streamAt: lenAt + 4 };
}

/** Values worth trying in an architecture byte: each field's valid values, its edges, and garbage. */
const ARCH_VALUES: number[][] = [
  [0, 1, 2, 7, 8, 9, 255], // L
  [0, 7, 8, 9, 16, 24, 25, 32, 255], // N
  [0, 1, 2, 3, 4, 255], // D
  [0, 7, 8, 16, 24, 32, 33, 64, 255], // Wh
  [0, 1, 2, 5, 8, 9, 255], // S
];
const LAYER_VALUES: number[][] = [
  [0, 1, 2, 255], // kind
  [0, 1, 3, 24, 63, 64, 65, 255], // out
  [0, 1, 2], // act
  [0, 1, 2], // residual
];

function withParams(seed: Uint8Array, fn: (params: Uint8Array) => Uint8Array, opts?: { keepLengths?: boolean }): Uint8Array {
  const p = splitPerImage(seed);
  p.params = fn(p.params);
  return joinPerImage(p, opts);
}

/** the rANS stream length word at lenAt set to the stream's actual length (if there is room) */
function fixStreamLength(b: Uint8Array): Uint8Array {
  const { lenAt } = paramsLayout(b);
  if (b.length >= lenAt + 4) new DataView(b.buffer, b.byteOffset).setUint32(lenAt, b.length - lenAt - 4, true);
  return b;
}

function extremeFloat(rng: Rng): number {
  return rng.pick([2 ** 20, -(2 ** 20), 2 ** 20 - 1, 1, -1, 0, rng.int(2 ** 21) - 2 ** 20]);
}

/**
 * Extreme but format-valid parameters: each tensor, with some probability, pushed to its
 * bounds (SPEC §3): ARM weights ±1023 (e = 0) or small k at e = 8, biases ±2^20; float tensors
 * |k| = 2^20 at e = 0 (values of 2^20: the synthesis overflows to ±Inf, Inf − Inf = NaN) or at
 * e = 24 (values down to 2^-24: subnormal products), taps included.
 */
export function extremeParams(p: PerImageParams, rng: Rng): PerImageParams {
  const nArm = 2 * (p.arch.D + 1);
  const tensors = p.tensors.map((t, i) => {
    if (!rng.chance(0.5)) return t;
    const k = t.k.slice();
    let e = t.e;
    if (i < nArm) {
      const isW = i % 2 === 0;
      e = rng.pick([0, 0, 8, rng.int(9)]);
      const lim = (isW ? 1023 : 2 ** 20) >> e;
      for (let j = 0; j < k.length; j++) if (rng.chance(0.7)) k[j] = rng.pick([lim, -lim, 0, rng.int(2 * lim + 1) - lim]);
    } else {
      e = rng.pick([0, 24, rng.int(25)]);
      for (let j = 0; j < k.length; j++) if (rng.chance(0.7)) k[j] = extremeFloat(rng);
    }
    return { k, e, s: rng.chance(0.8) ? t.s : rng.int(80) };
  });
  return { arch: p.arch, tensors };
}

function dimValue(rng: Rng): number {
  return rng.pick([
    () => 1 + rng.int(16),
    () => 1 + rng.int(96),
    () => rng.pick([0, 1, 2, 3, 4, 5, 63, 64, 65, 127, 128, 129, 511, 512, 513, 0xffff, 0x7fffffff, 0xffffffff]),
  ])();
}

/** The per-image mutators; `core` (a core of their own) builds the valid extreme files. */
export function perimageMutators(core: PerImageCore): Mutator[] {
  /** decode the seed's params and grids; null if the seed no longer decodes (a stacked mutation) */
  const decodeSeed = (seed: Uint8Array) => {
    const p = splitPerImage(seed);
    const dv = new DataView(p.header.buffer);
    const w = dv.getUint32(12, true);
    const h = dv.getUint32(16, true);
    if (w * h > 4096) return null;
    try {
      const params = core.decodeParams(p.params);
      const grids = core.decodeLatents(params, p.latents, w, h);
      return { p, w, h, params, grids };
    } catch {
      return null;
    }
  };
  return [
    {
      // one architecture byte (L, N, D, Wh, S, a layer's kind/out/act/residual): the rest no longer agrees
      name: 'pi-arch',
      weight: 3,
      apply: (seed, rng) =>
        withParams(seed, (b) => {
          const o = b.slice();
          if (o.length < 5) return o;
          const { S } = paramsLayout(o);
          if (rng.chance(0.5) || S === 0) {
            const f = rng.int(5);
            o[f] = rng.pick(ARCH_VALUES[f]);
          } else {
            const at = 5 + 4 * rng.int(Math.min(S, 8)) + rng.int(4);
            if (at < o.length) o[at] = rng.pick(LAYER_VALUES[(at - 5) % 4]);
          }
          return o;
        }),
    },
    {
      // a tensor's exponent or table index: at, around and beyond the limits (8 / 24, 79)
      name: 'pi-exponent',
      weight: 3,
      apply: (seed, rng) =>
        withParams(seed, (b) => {
          const o = b.slice();
          const { T, pairs } = paramsLayout(o);
          for (let n = 1 + rng.int(3); n > 0; n--) {
            const t = rng.int(Math.max(1, T));
            const at = pairs + 2 * t + (rng.chance(0.5) ? 1 : 0);
            if (at >= o.length) continue;
            o[at] = (at - pairs) % 2 === 0 ? rng.pick([0, 1, 7, 8, 9, 16, 23, 24, 25, 255]) : rng.pick([0, 1, 40, 78, 79, 80, 255]);
          }
          return o;
        }),
    },
    {
      // the params rANS stream (its length word kept right, so the stream decoder is reached)
      name: 'pi-params-stream',
      weight: 4,
      apply: (seed, rng) =>
        withParams(seed, (b) => {
          const { streamAt } = paramsLayout(b);
          if (b.length < streamAt) return havoc(b, rng);
          const o = new Uint8Array([...b.subarray(0, streamAt), ...havoc(b.subarray(streamAt), rng, 4, rng.chance(0.5))]);
          return rng.chance(0.9) ? fixStreamLength(o) : o;
        }),
    },
    {
      // the stream length word: shorter / longer than the section, huge
      name: 'pi-stream-length',
      weight: 1,
      apply: (seed, rng) =>
        withParams(seed, (b) => {
          const o = b.slice();
          const { lenAt } = paramsLayout(o);
          if (o.length < lenAt + 4) return o;
          const sl = o.length - lenAt - 4;
          new DataView(o.buffer).setUint32(lenAt, rng.pick([0, 1, sl - 1, sl + 1, sl + 2, 0xffffffff, 0x80000000, rng.int(1 << 16)]) >>> 0, true);
          return o;
        }),
    },
    {
      // the latent stream (the entropy path: ARM + rANS)
      name: 'pi-latents',
      weight: 5,
      apply(seed, rng) {
        const p = splitPerImage(seed);
        p.latents = havoc(p.latents, rng, 4, rng.chance(0.5));
        return joinPerImage(p);
      },
    },
    {
      // the header's section lengths, bytes left where they are: the params/latent boundary moves
      name: 'pi-lengths',
      weight: 2,
      apply(seed, rng) {
        const o = seed.slice();
        if (o.length < H) return o;
        const dv = new DataView(o.buffer);
        const f = 24 + 4 * rng.int(3);
        const v = dv.getUint32(f, true);
        const d = rng.pick([1, 2, 3, 4, 8, 16, rng.int(64)]) * (rng.chance(0.5) ? 1 : -1);
        dv.setUint32(f, rng.chance(0.8) ? Math.max(0, v + d) >>> 0 : rng.pick([0, 1, 7, 8, 0xffffffff]), true);
        if (rng.chance(0.7)) {
          // keep the total: what one section lost, the next one gained
          const g = f === 32 ? 28 : f + 4;
          dv.setUint32(g, Math.max(0, dv.getUint32(g, true) - d) >>> 0, true);
        }
        return resealPerImage(o);
      },
    },
    {
      // width / height that the grids were not coded for
      name: 'pi-dims',
      weight: 3,
      apply(seed, rng) {
        const p = splitPerImage(seed);
        const dv = new DataView(p.header.buffer);
        const w = dv.getUint32(12, true);
        const h = dv.getUint32(16, true);
        const near = (v: number) => Math.max(0, v + rng.pick([-2, -1, 1, 2, v, -Math.floor(v / 2)]));
        if (rng.chance(0.7)) dv.setUint32(12, (rng.chance(0.6) ? near(w) : dimValue(rng)) >>> 0, true);
        if (rng.chance(0.7)) dv.setUint32(16, (rng.chance(0.6) ? near(h) : dimValue(rng)) >>> 0, true);
        return joinPerImage(p);
      },
    },
    {
      // header fields other than sizes: flags, quality, reserved (header CRC fixed)
      name: 'pi-header-field',
      weight: 1,
      apply(seed, rng) {
        const o = seed.slice();
        if (o.length < H) return o;
        const dv = new DataView(o.buffer);
        const f = rng.int(5);
        if (f === 0) o[8] = rng.pick([0, 1, 3, 255]);
        else if (f === 1) o[9] = rng.int(256);
        else if (f === 2) o[10 + rng.int(2)] = rng.int(256);
        else if (f === 3) dv.setUint16(20, rng.pick([0, 255, 256, 2048, 2049, rng.int(65536)]), true);
        else dv.setUint32(rng.pick([22, 36]), rng.int(256), true);
        return resealPerImage(o);
      },
    },
    {
      // sections of another seed (another architecture, size, alpha) under this header
      name: 'pi-splice',
      weight: 3,
      apply(seed, rng, other) {
        const p = splitPerImage(seed);
        const q = splitPerImage(other);
        const r = rng.int(5);
        if (r === 0) p.params = q.params;
        else if (r === 1) p.latents = q.latents;
        else if (r === 2) p.alpha = q.alpha;
        else if (r === 3) {
          // this architecture with the other's tensor stream (lengths fixed): tensors of the wrong sizes
          const a = paramsLayout(p.params);
          const b = paramsLayout(q.params);
          p.params = fixStreamLength(new Uint8Array([...p.params.subarray(0, a.streamAt), ...q.params.subarray(b.streamAt)]));
        } else [p.params, p.latents] = [p.latents, p.params];
        return joinPerImage(p);
      },
    },
    {
      // valid files with extreme weights (format-legal bounds and exponents), re-encoded
      name: 'pi-weights',
      weight: 3,
      apply(seed, rng) {
        const d = decodeSeed(seed);
        if (!d) return seed;
        const params = extremeParams(d.params, rng);
        try {
          d.p.params = core.encodeParams(params);
          d.p.latents = core.encodeLatents(params, d.grids, d.w, d.h);
        } catch {
          return seed;
        }
        return joinPerImage(d.p);
      },
    },
    {
      // a new random valid model and grids for this image size (every L, N, D, Wh, 3x3, residuals)
      name: 'pi-regen',
      weight: 2,
      apply(seed, rng) {
        const p = splitPerImage(seed);
        const dv = new DataView(p.header.buffer);
        const w = dv.getUint32(12, true);
        const h = dv.getUint32(16, true);
        if (w * h > 4096 || w === 0 || h === 0) return seed;
        const r = () => rng.next();
        const arch = randomArch(r);
        let params = randomParams(r, arch, { extreme: rng.chance(0.3), armScale: 8 + rng.int(200), armBias: rng.int(4000) });
        if (rng.chance(0.3)) params = extremeParams(params, rng);
        const grids = randomGrids(r, arch.L, w, h, rng.pick([1, 8, 127]), rng.pick([0.3, 2, 50]));
        try {
          p.params = core.encodeParams(params);
          p.latents = core.encodeLatents(params, grids, w, h);
        } catch {
          return seed;
        }
        return joinPerImage(p);
      },
    },
    {
      // no repair: signature, version, CRC and truncation checks
      name: 'pi-raw',
      weight: 1,
      apply: (seed, rng) => havoc(seed, rng),
    },
  ];
}
