/**
 * A short run of the fuzzer (fuzz/, `npm run fuzz` for long ones; bench/results/fuzz.json
 * holds a committed run of over a million decodes): structure-aware mutations of tiny .nimg,
 * PNG and JPEG seeds. Every input must end in OK or a NimgError, none may take over 2 s
 * (twice in a row), memory must stay flat, and the .nimg mutations must get past the CRCs to
 * the entropy decoder (CORRUPT_STREAM) and the network (OK). About 30 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { parseContainer } from '../src/format/container.js';
import { NimgError } from '../src/errors.js';
import { fuzz, inputAt } from '../fuzz/harness.js';
import { NIMG_MUTATORS } from '../fuzz/nimg-mutators.js';
import { PNG_MUTATORS, pngChunks } from '../fuzz/image-mutators.js';
import { jpegTarget, nimgTarget, pngTarget } from '../fuzz/targets.js';
import { makeRng } from '../fuzz/rng.js';
import { crc32 } from '../src/format/crc32.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { perimageTarget } from '../fuzz/targets.js';
import { paramsLayout, splitPerImage } from '../fuzz/perimage-mutators.js';

const HAVE_CORE = existsSync(new URL('../build/nimg-core.wasm', import.meta.url));

describe.skipIf(!HAVE_CORE)('fuzz (short run)', () => {
  let nimg: Awaited<ReturnType<typeof nimgTarget>>;
  beforeAll(async () => {
    nimg = await nimgTarget({ weight: 10 });
  }, 60_000);
  afterAll(() => nimg?.dispose());

  it('repairing mutators keep the CRCs right, so inputs reach the stream decoders', () => {
    for (const name of ['y-havoc', 'z-havoc', 'dims', 'crossover']) {
      const m = NIMG_MUTATORS.find((x) => x.name === name)!;
      for (let i = 0; i < 50; i++) {
        const rng = makeRng(9, i);
        const out = m.apply(rng.pick(nimg.seeds), rng, rng.pick(nimg.seeds));
        try {
          parseContainer(out, { limits: { maxPixels: Infinity, maxWidth: Infinity, maxHeight: Infinity } });
        } catch (e) {
          expect(e).toBeInstanceOf(NimgError);
          expect((e as NimgError).code).not.toBe('CHECKSUM_MISMATCH');
        }
      }
    }
    const rows = PNG_MUTATORS.find((x) => x.name === 'png-rows')!;
    const png = rows.apply(pngTarget().seeds[3], makeRng(1), pngTarget().seeds[0]);
    const dv = new DataView(png.buffer);
    for (let p = 8; p + 12 <= png.length; ) {
      const len = dv.getUint32(p);
      expect(dv.getUint32(p + 8 + len)).toBe(crc32(png, p + 4, p + 8 + len));
      p += 12 + len;
    }
    expect(pngChunks(png)[0].type).toBe('IHDR');
  });

  it('the same seed and iteration rebuild the same input', () => {
    const targets = [nimg, pngTarget(), jpegTarget()];
    for (const it of [0, 17, 4242]) {
      expect(Buffer.from(inputAt(targets, 3, it).input).equals(Buffer.from(inputAt(targets, 3, it).input))).toBe(true);
    }
  });

  it('~25 s of .nimg decodes and PNG/JPEG reads: only NimgErrors, none slow, memory flat', async () => {
    const r = await fuzz([nimg, pngTarget(1), jpegTarget(1)], { seconds: 25, seed: Date.now() % 100000 });
    const bad = r.findings.filter((f) => f.kind !== 'stall');
    if (bad.length) console.error(`[fuzz] seed ${r.seed}:`, bad);
    expect(bad).toEqual([]);
    const n = r.targets['nimg-decode'];
    expect(n.runs).toBeGreaterThan(1000);
    expect(n.byCode.CORRUPT_STREAM).toBeGreaterThan(0);
    expect(n.byCode.OK).toBeGreaterThan(0);
    expect(r.targets['png-read'].byCode.OK).toBeGreaterThan(0);
    expect(r.targets['jpeg-read'].byCode.OK).toBeGreaterThan(0);
    expect(r.rss.maxMb - r.rss.startMb).toBeLessThan(250);
  }, 90_000);
});

describe.skipIf(!HAVE_CORE)('fuzz: the per-image (v2) decoder (short run)', () => {
  let pi: Awaited<ReturnType<typeof perimageTarget>>;
  beforeAll(async () => {
    pi = await perimageTarget();
  }, 60_000);
  afterAll(() => pi?.dispose());

  it('seeds are valid v2 files that decode; the repairing mutators keep both CRCs right', async () => {
    for (const s of pi.seeds) await expect(Promise.resolve(pi.run(s))).resolves.toBeTruthy();
    const repairing = pi.mutators.filter((m) => m.name !== 'pi-raw' && m.name !== 'pi-header-field' && m.name !== 'pi-lengths');
    for (const m of repairing) {
      for (let i = 0; i < 30; i++) {
        const rng = makeRng(21, i);
        const out = m.apply(rng.pick(pi.seeds), rng, rng.pick(pi.seeds));
        try {
          parsePerImageContainer(out, { limits: { ...DEFAULT_LIMITS, maxPixels: Infinity, maxWidth: Infinity, maxHeight: Infinity } });
        } catch (e) {
          expect(e, m.name).toBeInstanceOf(NimgError);
          expect((e as NimgError).code, m.name).not.toBe('CHECKSUM_MISMATCH');
        }
      }
    }
  });

  it('pi-weights builds valid files whose weights sit at the format bounds, and they decode', async () => {
    const m = pi.mutators.find((x) => x.name === 'pi-weights')!;
    let extreme = 0;
    for (let i = 0; i < 40; i++) {
      const rng = makeRng(5, i);
      const f = m.apply(rng.pick(pi.seeds), rng, rng.pick(pi.seeds));
      const p = splitPerImage(f);
      const params = pi.core.decodeParams(p.params);
      const nArm = 2 * (params.arch.D + 1);
      // a float tensor at |k| = 2^20 with exponent 0: values of 2^20, the synthesis overflows
      if (params.tensors.some((t, j) => j >= nArm && t.e === 0 && t.k.some((v) => Math.abs(v) === 2 ** 20))) extreme++;
      expect(paramsLayout(p.params).T).toBe(params.tensors.length);
      await pi.run(f);
    }
    expect(extreme).toBeGreaterThan(5);
  });

  it('~6 s of v2 decodes: only NimgErrors, none slow, the params parser, the streams and the synthesis reached', async () => {
    const r = await fuzz([pi], { seconds: 6, seed: Date.now() % 100000 });
    const bad = r.findings.filter((f) => f.kind !== 'stall');
    if (bad.length) console.error(`[fuzz] seed ${r.seed}:`, bad);
    expect(bad).toEqual([]);
    const t = r.targets['perimage-decode'];
    expect(t.runs).toBeGreaterThan(1000);
    expect(t.byCode.OK).toBeGreaterThan(100);
    expect(t.byCode.CORRUPT_STREAM).toBeGreaterThan(100);
    expect(t.byCode.LIMIT_EXCEEDED).toBeGreaterThan(0);
    // every structure-aware mutator was drawn and got past the container at least once
    for (const m of pi.mutators) expect(t.byMutator[m.name]?.runs ?? 0, m.name).toBeGreaterThan(0);
    expect(r.rss.maxMb - r.rss.startMb).toBeLessThan(250);
    // small limits (512²): the decoder's WASM memory stays a few MiB
    expect(pi.core.memorySize()).toBeLessThan(64 * 2 ** 20);
  }, 60_000);
});
