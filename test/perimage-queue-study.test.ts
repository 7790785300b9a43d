/**
 * bench/perimage-queue.ts --arch-study: jobs of the named study architectures on the first
 * --photos training photos of .gpu/calib/, at the calibration λ, each carrying its decoder,
 * resumable against --done; a study init (--syn-hidden-bias, --seeds, --starts, --soap) rides on each job; and a name it
 * does not know is an error, not an empty queue.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STUDY_ARCHES } from '../bench/perimage-arches.js';
import { CALIB_LAMBDAS } from '../bench/perimage-plan.js';
import { pathToFileURL } from 'node:url';

const cwd = mkdtempSync(path.join(tmpdir(), 'nimg-queue-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
mkdirSync(path.join(cwd, '.gpu/calib'), { recursive: true });
mkdirSync(path.join(cwd, 'kodak'));
mkdirSync(path.join(cwd, 'done'));
for (const f of ['b.jpg', 'a.jpg', 'c.jpg']) writeFileSync(path.join(cwd, '.gpu/calib', f), '');
const script = path.resolve('bench/perimage-queue.ts');
// the script runs in a scratch folder (it reads .gpu/calib and writes .gpu/queue.jsonl there),
// so tsx is named by path; never imported here: importing it would write this checkout's queue
const tsx = pathToFileURL(path.resolve('node_modules/tsx/dist/loader.mjs')).href;
const run = (...args: string[]) =>
  execFileSync(process.execPath, ['--import', tsx, script, '--kodak', 'kodak', '--done', 'done', '--steps', '8000', ...args], { cwd, stdio: 'pipe' });
const queue = () => readFileSync(path.join(cwd, '.gpu/queue.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('perimage-queue --arch-study', () => {
  it('queues each architecture on the first photos, decoder included, and resumes', () => {
    run('--arch-study', 'wide,syn32', '--photos', '2');
    const q = queue();
    expect(q).toHaveLength(2 * 2 * CALIB_LAMBDAS.length);
    expect(new Set(q.map((j) => j.image))).toEqual(new Set(['.gpu/calib/a.jpg', '.gpu/calib/b.jpg']));
    const first = q[0];
    expect(first.name).toBe(`calib-a-l${CALIB_LAMBDAS[0].toExponential().replace('+', '')}-s8000-r4-wide`);
    expect(first.arch).toEqual(STUDY_ARCHES.wide);
    expect(q.filter((j) => j.name.endsWith('-syn32')).every((j) => JSON.stringify(j.arch) === JSON.stringify(STUDY_ARCHES.syn32))).toBe(true);
    // a finished row is not queued again
    writeFileSync(path.join(cwd, 'done', `${first.name}.json`), '{}');
    run('--arch-study', 'wide,syn32', '--photos', '2');
    expect(queue().map((j) => j.name)).not.toContain(first.name);
    expect(queue()).toHaveLength(q.length - 1);
  }, 60_000);

  it('queues a study init (--syn-hidden-bias) for the encoder\'s own decoder (auto) and a named one', () => {
    run('--arch-study', 'auto,wide', '--photos', '1', '--syn-hidden-bias', '0.1');
    const q = queue();
    expect(q).toHaveLength(2 * CALIB_LAMBDAS.length);
    const l0 = CALIB_LAMBDAS[0].toExponential().replace('+', '');
    const auto = q.find((j) => j.name === `calib-a-l${l0}-s8000-r4-b0.1`);
    expect(auto).toMatchObject({ image: '.gpu/calib/a.jpg', synHiddenBias: 0.1 });
    expect(auto.arch).toBeUndefined(); // the encoder's choice, like the calibration rows it is set against
    expect(q.find((j) => j.name === `calib-a-l${l0}-s8000-r4-wide-b0.1`)).toMatchObject({ arch: STUDY_ARCHES.wide, synHiddenBias: 0.1 });
    expect(q.every((j) => j.synHiddenBias === 0.1)).toBe(true);
    expect(() => run('--arch-study', 'auto', '--syn-hidden-bias', '2')).toThrow(/--syn-hidden-bias 2/);
    expect(() => run('--syn-hidden-bias', '0.1')).toThrow(/goes with --arch-study/);
  }, 60_000);

  it('queues one group per seed (--seeds), each job carrying its seed; --starts rides on each job', () => {
    run('--arch-study', 'auto', '--photos', '2', '--seeds', '2,3');
    const q = queue();
    expect(q).toHaveLength(2 * 2 * CALIB_LAMBDAS.length);
    const l0 = CALIB_LAMBDAS[0].toExponential().replace('+', '');
    expect(q.find((j) => j.name === `calib-b-l${l0}-s8000-r4-sd3`)).toMatchObject({ image: '.gpu/calib/b.jpg', seed: 3 });
    expect(new Set(q.map((j) => j.seed))).toEqual(new Set([2, 3]));
    expect(() => run('--arch-study', 'auto', '--seeds', '1.5')).toThrow(/--seeds 1.5/);
    run('--arch-study', 'auto', '--photos', '1', '--starts', '4');
    expect(queue()[0]).toMatchObject({ name: `calib-a-l${l0}-s8000-r4-st4`, starts: 4 });
    expect(() => run('--arch-study', 'auto', '--starts', '9')).toThrow(/--starts 9/);
    run('--arch-study', 'auto', '--photos', '1', '--soap', 'arm,syn');
    expect(queue()[0]).toMatchObject({ name: `calib-a-l${l0}-s8000-r4-soaparmsyn`, soap: 'arm,syn' });
    expect(queue()).toHaveLength(CALIB_LAMBDAS.length);
    expect(() => run('--arch-study', 'auto', '--soap', 'all')).toThrow(/--soap all/);
    run('--arch-study', 'auto', '--photos', '1', '--soap', 'syn', '--soap-lr', '0.5');
    expect(queue()[0]).toMatchObject({ name: `calib-a-l${l0}-s8000-r4-soapsyn-lr0.5`, soap: 'syn', soapLr: 0.5 });
    expect(() => run('--arch-study', 'auto', '--soap-lr', '0.5')).toThrow(/--soap-lr goes with --soap/);
    // without --arch-study: the Kodak queue with SOAP, recipe r5 in the names, no calibration encodes
    for (const k of ['kodim01.png', 'kodim02.png', 'kodim04.png', 'kodim08.png', 'kodim23.png']) writeFileSync(path.join(cwd, 'kodak', k), '');
    run('--soap', 'syn', '--order', 'headline');
    const kq = queue();
    expect(kq.length).toBeGreaterThan(0);
    expect(kq.every((j) => /^kodim\d\d-l.+-s\d+-r5$/.test(j.name) && j.soap === 'syn')).toBe(true);
    expect(kq.find((j) => j.name.startsWith('kodim02-') && j.steps === 8000)).toBeDefined();
    run('--order', 'headline');
    expect(queue().some((j) => j.name.startsWith('calib-'))).toBe(true);
    expect(queue().every((j) => !j.soap && !/-r5$/.test(j.name))).toBe(true);
  }, 60_000);

  it('refuses an architecture it does not know', () => {
    expect(() => run('--arch-study', 'huge')).toThrow(/--arch-study huge/);
  }, 60_000);
});
