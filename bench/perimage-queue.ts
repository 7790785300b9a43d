/**
 * The job queue of bench/perimage-gpu.ts `jobs` for a device session (written to
 * .gpu/queue.jsonl; paths relative to the repo root on the device, where .gpu/ is carried),
 * in the order the workers take it (Kodak at KODAK_LAMBDAS, 6 rates of about 0.1-1.5 bpp,
 * image-major: all lambdas of one image follow each other, and `jobs --members 6` trains them
 * together):
 *   1. the encode-time table first (whether more steps pay is the open question): EFFORT_IMAGES
 *      at 4x --steps, then at --steps, then at 2x (the rate at 100 / 25 / 50 % of the default
 *      steps when --steps is a quarter of them);
 *   2. the other Kodak images at --steps;
 *   (--order headline: all 24 images at --steps first, effort images leading, then the effort
 *   images at a quarter and half of --steps: for sessions that measure the default effort);
 *   3. calibration encodes of the training photos in .gpu/calib/ (BSDS500 train, whole
 *      481x321 photos) at CALIB_LAMBDAS, for the quality -> lambda table (never Kodak).
 * Names end in -sSTEPS-RECIPE (RECIPE: the encoder recipe, see bench/perimage-rd-report.ts
 * recipeOf; rows of older recipes, named without it or with another, are not `done`), so
 * that rows of several efforts and recipes live side by side. Jobs whose rows
 * already exist (--done DIR holding NAME.json files) are left out: sessions resume where the
 * last one stopped. The Kodak PNGs the queue names are copied into .gpu/kodak/ (only those: the
 * device call carries at most 64 MiB with the repository).
 *   npx tsx bench/perimage-queue.ts [--done bench/results/perimage-rows] [--steps 2000] [--out .gpu/queue.jsonl]
 *       [--kodak ../shared/data/kodak] [--limit N (the first N jobs)] [--order effort|headline]
 *   npx tsx bench/perimage-queue.ts --arch-study wide,syn32 [--photos 2] [--steps 8000] [--syn-hidden-bias B] [--seeds S,..] [--starts K] [--soap syn|arm|arm,syn [--soap-lr S]] [--out .gpu/queue.jsonl]
 *     Instead: architecture studies on the first --photos training photos of .gpu/calib/ at
 *     CALIB_LAMBDAS, one group per photo and architecture (bench/perimage-arches.ts), named
 *     calib-PHOTO-lLAMBDA-sSTEPS-RECIPE-ARCH, to set against the default decoder's calibration
 *     rows of the same photos (bench/results/perimage-calib/; bench/perimage-sweep-bd.ts --jobs).
 *     Pass --done bench/results/perimage-calib, where their rows are kept. `auto` names the
 *     encoder's own choice (no arch in the job, no ARCH in the name: the calibration rows' decoder).
 *     --syn-hidden-bias B: the jobs train from that initial synthesis bias (the encoder's
 *     synHiddenBias), named ...-bB, to set against the same decoder at the default init.
 *     --seeds 2,3: one group per seed (the initialisation and the noise), named ...-sdS, to
 *     set against seed 1 (how far starts spread). --starts K: the encoder's best of K
 *     initialisations (its `starts`), named ...-stK. --soap syn: the weight matrices of the
 *     synthesis (arm: of the context model; arm,syn: both) train with SOAP instead of Adam
 *     (TrainSettings.soap, encoder/soap.ts), named ...-soapsyn (-soaparm, -soaparmsyn); --soap-lr S:
 *     SOAP's step S times the networks' Adam step (its lrScale), named ...-soapsyn-lrS.
 *   npx tsx bench/perimage-queue.ts --soap syn [--order headline] ...: the Kodak queue with SOAP,
 *     recipe r5 (names ...-sSTEPS-r5), no calibration encodes.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { opt } from './args.js';
import { STUDY_ARCHES } from './perimage-arches.js';
import { MAX_STARTS } from '../src/profiles/perimage/encoder/starts.js';
import { CALIB_LAMBDAS, EFFORT_IMAGES, KODAK_LAMBDAS, RECIPE } from './perimage-plan.js';

const steps = +opt('steps', '2000');
const doneDir = opt('done', 'bench/results/perimage-rows');
const done = new Set(existsSync(doneDir) ? readdirSync(doneDir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)) : []);
const lam = (l: number) => l.toExponential().replace('+', '');

// no .gpu/calib (removed to fit the 64 MiB a call carries): no calibration jobs
const calibImgs = existsSync('.gpu/calib') ? readdirSync('.gpu/calib').filter((n) => /\.(jpg|png)$/.test(n)).sort() : [];
const kodakDir = opt('kodak', '../shared/data/kodak');
const kodak = readdirSync(kodakDir).filter((n) => n.endsWith('.png')).sort();
type Job = { name: string; image: string; lambda: number; steps: number; arch?: (typeof STUDY_ARCHES)[string]; synHiddenBias?: number; seed?: number; starts?: number; soap?: string; soapLr?: number };
/** what a study varies besides the decoder: the encoder's synHiddenBias, seed, starts and SOAP's networks */
interface StudyInit { bias?: number; seed?: number; starts?: number; soap?: string; soapLr?: number }
/**
 * a calibration (training photo) job; `arch`: a study architecture, named as the name's
 * next part; then the study init's parts (-bBIAS, -sdSEED, -stSTARTS, -soapNETS, -lrSOAPLR)
 */
const calibJob = (f: string, l: number, st: number, arch?: string, init: StudyInit = {}): Job => ({
  name: `calib-${path.parse(f).name}-l${lam(l)}-s${st}-${RECIPE}${arch ? `-${arch}` : ''}` +
    `${init.bias !== undefined ? `-b${init.bias}` : ''}${init.seed !== undefined ? `-sd${init.seed}` : ''}${init.starts !== undefined ? `-st${init.starts}` : ''}` +
    `${init.soap !== undefined ? `-soap${init.soap.replace(',', '')}` : ''}${init.soapLr !== undefined ? `-lr${init.soapLr}` : ''}`,
  image: `.gpu/calib/${f}`, lambda: l, steps: st,
  ...(arch ? { arch: STUDY_ARCHES[arch] } : {}),
  ...(init.bias !== undefined ? { synHiddenBias: init.bias } : {}),
  ...(init.seed !== undefined ? { seed: init.seed } : {}),
  ...(init.starts !== undefined ? { starts: init.starts } : {}),
  ...(init.soap !== undefined ? { soap: init.soap } : {}),
  ...(init.soapLr !== undefined ? { soapLr: init.soapLr } : {}),
});
/** a Kodak job; with `soap` (the networks SOAP trains) its recipe is r5 (perimage-curves.ts recipeOf), in the name too */
const kodakJob = (f: string, l: number, st: number, soap?: string): Job => ({
  name: `${path.parse(f).name}-l${lam(l)}-s${st}-${soap ? 'r5' : RECIPE}`, image: `.gpu/kodak/${f}`, lambda: l, steps: st, ...(soap ? { soap } : {}),
});

/** --arch-study: each architecture on the first --photos training photos, nothing else */
function studyJobs(study: string[], seeds: (number | undefined)[], init: Omit<StudyInit, 'seed'>): Job[] {
  for (const a of study) if (a !== 'auto' && !STUDY_ARCHES[a]) throw new Error(`--arch-study ${a}: auto or one of ${Object.keys(STUDY_ARCHES).join(', ')}`);
  if (!calibImgs.length) throw new Error('--arch-study needs the training photos in .gpu/calib/ (bench/gpu/prepare.sh)');
  const archOf = (a: string) => (a === 'auto' ? undefined : a);
  return calibImgs.slice(0, +opt('photos', '2')!).flatMap((f) =>
    study.flatMap((a) => seeds.flatMap((seed) => CALIB_LAMBDAS.map((l) => calibJob(f, l, steps, archOf(a), { ...init, seed })))));
}

/** the Kodak jobs in --order, then the calibration encodes; `soap`: the Kodak jobs train with SOAP (recipe r5; no calibration encodes) */
function kodakAndCalibJobs(soap?: string): Job[] {
  const out: Job[] = [];
  const others = kodak.filter((k) => !EFFORT_IMAGES.includes(k));
  const push = (imgs: string[], st: number) => { for (const f of imgs) out.push(...KODAK_LAMBDAS.map((l) => kodakJob(f, l, st, soap))); };
  if (opt('order', 'effort') === 'headline') {
    // the 24-image curve at --steps first (effort images leading), then the shorter efforts of the table
    push(EFFORT_IMAGES, steps); push(others, steps); push(EFFORT_IMAGES, steps / 4); push(EFFORT_IMAGES, steps / 2);
  } else {
    for (const st of [4 * steps, steps, 2 * steps]) push(EFFORT_IMAGES, st);
    push(others, steps);
  }
  if (!soap) for (const f of calibImgs) out.push(...CALIB_LAMBDAS.map((l) => calibJob(f, l, steps)));
  return out;
}

const study = opt('arch-study', '')!.split(',').filter(Boolean);
/** a study option --NAME: absent → undefined; refused when `ok` fails (saying `want`) or, unless `kodakToo`, without --arch-study */
function studyOpt<T>(name: string, parse: (arg: string) => T, ok: (v: T) => boolean, want: string, kodakToo = false): T | undefined {
  const arg = opt(name);
  if (arg === undefined) return undefined;
  const v = parse(arg);
  if (!ok(v)) throw new Error(`--${name} ${arg}: ${want}`);
  if (!study.length && !kodakToo) throw new Error(`--${name} goes with --arch-study`);
  return v;
}
const isSeed = (s: number) => Number.isInteger(s) && s >= 0 && s < 2 ** 32;
const bias = studyOpt('syn-hidden-bias', Number, (b) => b >= 0 && b <= 1, 'a number in [0, 1]');
const seeds = studyOpt('seeds', (a) => a.split(',').map(Number), (ss) => ss.every(isSeed), 'integers') ?? [undefined];
const starts = studyOpt('starts', Number, (k) => Number.isInteger(k) && k >= 1 && k <= MAX_STARTS, `1 … ${MAX_STARTS}`);
const soap = studyOpt('soap', String, (on) => ['syn', 'arm', 'arm,syn'].includes(on), 'syn, arm or arm,syn', true);
const soapLr = studyOpt('soap-lr', Number, (s) => s > 0 && s <= 10, 'a number in (0, 10]');
if (soapLr !== undefined && !soap) throw new Error('--soap-lr goes with --soap');
const all = study.length ? studyJobs(study, seeds, { bias, starts, soap, soapLr }) : kodakAndCalibJobs(soap);
const limit = +opt('limit', '0');
const todo = all.filter((j) => !done.has(j.name)).slice(0, limit > 0 ? limit : undefined);
mkdirSync('.gpu/kodak', { recursive: true });
for (const img of new Set(todo.map((j) => j.image).filter((i) => i.startsWith('.gpu/kodak/')))) {
  if (!existsSync(img)) copyFileSync(path.join(kodakDir, path.basename(img)), img);
}
writeFileSync(opt('out', '.gpu/queue.jsonl'), todo.map((j) => JSON.stringify(j)).join('\n') + '\n');
console.log(`${todo.length} jobs (${all.filter((j) => done.has(j.name)).length} done already)`);
