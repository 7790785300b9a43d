/**
 * bench/perimage-gpu.ts `jobs` with an `arch` in the queue (architecture studies through the
 * real codec): entries of one architecture train together, entries without one keep the
 * encoder's choice, and each row records the decoder its file carries; an entry's
 * synHiddenBias (the encoder's initial synthesis bias), starts (best of K initialisations) or
 * soap (SOAP for the weight matrices) trains in its own group and is recorded.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';
import { encodePng } from '../src/image/png.js';

const dir = mkdtempSync(path.join(tmpdir(), 'nimg-jobs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const wide = {
  L: 5, N: 24, D: 2, Wh: 24,
  synthesis: [
    { kind: '1x1', out: 32, act: 'relu', residual: false },
    { kind: '1x1', out: 3, act: 'none', residual: false },
    { kind: '3x3', out: 3, act: 'relu', residual: true },
    { kind: '3x3', out: 3, act: 'none', residual: true },
  ],
};
// a 16x16 gradient with a diagonal edge, as a PNG the jobs mode reads
const image = path.join(dir, 'img.png');
const px = new Uint8Array(16 * 16 * 4);
for (let i = 0; i < 256; i++) px.set([(i % 16) * 16, (i >> 4) * 16, (i % 16) > (i >> 4) ? 200 : 40, 255], i * 4);
writeFileSync(image, encodePng({ width: 16, height: 16, data: px }));

describe('perimage-gpu jobs: arch per queue entry', () => {
  it('groups by architecture and writes it into the file and the row', () => {
    const job = (name: string, lambda: number, arch?: object) => JSON.stringify({ name, image, lambda, steps: 4, ...(arch ? { arch } : {}) });
    const biased = JSON.stringify({ name: 'auto-b', image, lambda: 1e-3, steps: 4, synHiddenBias: 0.1 });
    const started = JSON.stringify({ name: 'auto-k', image, lambda: 1e-3, steps: 8, starts: 2 });
    const soap = (name: string, lambda: number, nets?: string, soapLr?: number) => JSON.stringify({ name, image, lambda, steps: 12, ...(nets ? { soap: nets } : {}), ...(soapLr ? { soapLr } : {}) });
    writeFileSync(path.join(dir, 'q.jsonl'), [job('w1', 1e-2, wide), job('auto', 1e-2), biased, started, job('w2', 1e-3, wide),
      soap('adam12', 1e-3), soap('soap12', 1e-3, 'syn'), soap('soap12lr', 1e-3, 'syn', 0.5), soap('soap12b', 4e-3, 'syn')].join('\n'));
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/perimage-gpu.ts', 'jobs', '--backend', 'wasm', '--queue', path.join(dir, 'q.jsonl'), '--dir', path.join(dir, 'out'), '--members', '6'], {
      stdio: 'pipe', timeout: 240_000,
    });
    const row = (n: string) => JSON.parse(readFileSync(path.join(dir, 'out', `${n}.json`), 'utf8'));
    for (const n of ['w1', 'w2']) {
      expect(row(n).arch).toBe('custom');
      expect(row(n).archSpec).toEqual(wide);
      expect(row(n).members).toBe(2); // the two wide entries trained together, past the auto one between them
      const f = parsePerImageContainer(new Uint8Array(readFileSync(path.join(dir, 'out', `${n}.nimg`))));
      expect([...f.params.subarray(0, 4)]).toEqual([wide.L, wide.N, wide.D, wide.Wh]); // the architecture bytes (FORMAT.md §9)
    }
    expect(row('auto').members).toBe(1);
    expect(row('auto').archSpec).toBeUndefined();
    expect(row('auto').arch).not.toBe('custom');
    // a study init trains apart from the default init (one group each) and is recorded
    expect(row('auto').synHiddenBias).toBe(0.01);
    expect(row('auto-b').synHiddenBias).toBe(0.1);
    expect(row('auto-b').members).toBe(1);
    // best of K starts: recorded with the seed of the start it chose
    expect(row('auto-k')).toMatchObject({ starts: 2, members: 1 });
    expect([1, 2]).toContain(row('auto-k').initSeed);
    expect(row('auto')).toMatchObject({ starts: 1, initSeed: 1 });
    // SOAP: its entries train together, apart from the same settings with Adam, and it shows in the file
    expect(row('auto').soap).toBeNull();
    expect(row('soap12')).toMatchObject({ soap: 'syn', soapLr: 1, members: 2 });
    expect(row('soap12lr')).toMatchObject({ soap: 'syn', soapLr: 0.5, members: 1 }); // another step size: its own group
    expect(readFileSync(path.join(dir, 'out', 'soap12.nimg')).equals(readFileSync(path.join(dir, 'out', 'soap12lr.nimg')))).toBe(false);
    expect(row('soap12b')).toMatchObject({ soap: 'syn', members: 2 });
    expect(row('adam12')).toMatchObject({ soap: null, members: 1 });
    expect(readFileSync(path.join(dir, 'out', 'soap12.nimg')).equals(readFileSync(path.join(dir, 'out', 'adam12.nimg')))).toBe(false);
  }, 300_000);
});
