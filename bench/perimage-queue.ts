/**
 * The job queue of bench/perimage-gpu.ts `jobs` for a device session (written to
 * .gpu/queue.jsonl; paths relative to the repo root on the device, where .gpu/ is carried),
 * in the order the workers take it:
 *   1. Kodak encodes at KODAK_LAMBDAS (6 rates, about 0.1-1.5 bpp) and --steps, image-major
 *      (all lambdas of one image follow each other: `jobs --members 6` trains them together);
 *   2. the encode-time table: EFFORT_IMAGES at 2x and 4x --steps (with 1. they give the rate
 *      at 25 / 50 / 100 % of the default steps when --steps is a quarter of them);
 *   3. calibration encodes of the training photos in .gpu/calib/ (BSDS500 train, whole
 *      481x321 photos) at CALIB_LAMBDAS, for the quality -> lambda table (never Kodak).
 * Names end in -sSTEPS, so that rows of several efforts live side by side. Jobs whose rows
 * already exist (--done DIR holding NAME.json files) are left out: sessions resume where the
 * last one stopped. The Kodak PNGs the queue names are copied into .gpu/kodak/ (only those: the
 * device call carries at most 64 MiB with the repository).
 *   npx tsx bench/perimage-queue.ts [--done bench/results/perimage-rows] [--steps 2000] [--out .gpu/queue.jsonl]
 *       [--kodak ../shared/data/kodak] [--limit N (the first N jobs)]
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
export const CALIB_LAMBDAS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4];
export const KODAK_LAMBDAS = [1.5e-3, 5e-4, 4e-3, 1.5e-4, 1.2e-2, 3.5e-2];
/** diverse content for the rate vs encode-time table: texture, a face, edges, saturated colour */
export const EFFORT_IMAGES = ['kodim01.png', 'kodim04.png', 'kodim08.png', 'kodim23.png'];
const steps = +opt('steps', '2000');
const doneDir = opt('done', 'bench/results/perimage-rows');
const done = new Set(existsSync(doneDir) ? readdirSync(doneDir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)) : []);
const lam = (l: number) => l.toExponential().replace('+', '');

const calibImgs = readdirSync('.gpu/calib').filter((n) => /\.(jpg|png)$/.test(n)).sort();
const kodakDir = opt('kodak', '../shared/data/kodak');
const kodak = readdirSync(kodakDir).filter((n) => n.endsWith('.png')).sort();
type Job = { name: string; image: string; lambda: number; steps: number };
const calibJob = (f: string, l: number, st: number): Job => ({ name: `calib-${path.parse(f).name}-l${lam(l)}-s${st}`, image: `.gpu/calib/${f}`, lambda: l, steps: st });
const kodakJob = (f: string, l: number, st: number): Job => ({ name: `${path.parse(f).name}-l${lam(l)}-s${st}`, image: `.gpu/kodak/${f}`, lambda: l, steps: st });
const all: Job[] = [];
for (const f of kodak) all.push(...KODAK_LAMBDAS.map((l) => kodakJob(f, l, steps)));
for (const st of [2 * steps, 4 * steps]) for (const f of EFFORT_IMAGES) all.push(...KODAK_LAMBDAS.map((l) => kodakJob(f, l, st)));
for (const f of calibImgs) all.push(...CALIB_LAMBDAS.map((l) => calibJob(f, l, steps)));
const limit = +opt('limit', '0');
const todo = all.filter((j) => !done.has(j.name)).slice(0, limit > 0 ? limit : undefined);
mkdirSync('.gpu/kodak', { recursive: true });
for (const img of new Set(todo.map((j) => j.image).filter((i) => i.startsWith('.gpu/kodak/')))) {
  if (!existsSync(img)) copyFileSync(path.join(kodakDir, path.basename(img)), img);
}
writeFileSync(opt('out', '.gpu/queue.jsonl'), todo.map((j) => JSON.stringify(j)).join('\n') + '\n');
console.log(`${todo.length} jobs (${all.length - todo.length} done already)`);
