/**
 * From parsed arguments to a list of jobs, with every output checked before any work:
 * output folder present (or created) and writable, output not a directory, parent folder
 * writable, no two inputs writing the same output, existing outputs skipped unless --force.
 */
import { constants } from 'node:fs';
import { access, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { NimgError } from '../../errors.js';
import { INPUT_EXTS, OUTPUT_TYPES, UsageError, type Parsed } from './args.js';

export interface Job {
  /** position in the run, from 0 */
  index: number;
  /** input file, or '-' for stdin */
  input: string;
  /** output file, or '-' for stdout */
  output: string;
}

export interface Plan {
  jobs: Job[];
  /** inputs whose output exists (batch form without --force) */
  skipped: { input: string; output: string }[];
  /** inputs that cannot be run at all (missing, unreadable, output is a folder …): reported as failed */
  failed: { input: string; error: NimgError }[];
  /** the batch form (--out-dir): per-file lines and a summary */
  batch: boolean;
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

async function statOrNull(p: string) {
  try {
    return await stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** BAD_INPUT unless `dir` is an existing folder this process may create files in. */
async function checkWritableDir(dir: string, what: string): Promise<void> {
  let s;
  try {
    s = await stat(dir);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `cannot write ${what}: folder ${dir} ${errno(e) === 'ENOENT' ? 'does not exist' : `is not usable (${errno(e)})`}`, { cause: e });
  }
  if (!s.isDirectory()) throw new NimgError('BAD_INPUT', `cannot write ${what}: ${dir} is not a folder`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `cannot write ${what}: folder ${dir} is not writable (${errno(e)})`, { cause: e });
  }
}

/**
 * The single-file output, checked before the work: not a folder, writable if it exists, in
 * a writable folder otherwise.
 */
export async function checkOutputFile(output: string, input: string): Promise<void> {
  if (output === '-') return;
  if (input !== '-' && path.resolve(input) === path.resolve(output)) {
    throw new NimgError('BAD_INPUT', `cannot write ${output}: it is the input`);
  }
  const s = await statOrNull(output).catch((e) => {
    throw new NimgError('BAD_INPUT', `cannot write ${output}: ${errno(e)}`, { cause: e });
  });
  if (s?.isDirectory()) throw new NimgError('BAD_INPUT', `cannot write ${output}: it is a folder (for a folder of outputs use -o DIR)`);
  if (s) {
    try {
      await access(output, constants.W_OK);
    } catch (e) {
      throw new NimgError('BAD_INPUT', `cannot write ${output}: ${errno(e)}`, { cause: e });
    }
    return;
  }
  await checkWritableDir(path.dirname(path.resolve(output)), output);
}

/** Files of a folder that the command reads, sorted by name (not recursive). */
async function folderInputs(dir: string, command: 'encode' | 'decode'): Promise<string[]> {
  const exts = INPUT_EXTS[command];
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && exts.includes(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(dir, e.name))
    .sort();
}

export async function makePlan(args: Parsed): Promise<Plan> {
  if (args.command === 'info') throw new Error('makePlan: info has no jobs');
  const command = args.command;
  if (args.outDir === undefined) {
    const input = args.inputs[0];
    const output = args.output as string;
    await checkOutputFile(output, input);
    return { jobs: [{ index: 0, input, output }], skipped: [], failed: [], batch: false };
  }

  // the batch form: the folder first, so an unusable one stops the run before any work
  const outDir = args.outDir;
  const s = await statOrNull(outDir).catch((e) => {
    throw new NimgError('BAD_INPUT', `cannot use output folder ${outDir}: ${errno(e)}`, { cause: e });
  });
  if (s && !s.isDirectory()) throw new NimgError('BAD_INPUT', `output folder ${outDir} exists and is not a folder`);
  if (!s) {
    try {
      await mkdir(outDir, { recursive: true });
    } catch (e) {
      throw new NimgError('BAD_INPUT', `cannot create output folder ${outDir}: ${errno(e)}`, { cause: e });
    }
  }
  await checkWritableDir(outDir, `into ${outDir}`);

  const plan: Plan = { jobs: [], skipped: [], failed: [], batch: true };
  const inputs: string[] = [];
  for (const a of args.inputs) {
    let st;
    try {
      st = await stat(a);
    } catch (e) {
      plan.failed.push({ input: a, error: new NimgError('BAD_INPUT', `cannot read ${a}: ${errno(e)}`, { cause: e }) });
      continue;
    }
    if (st.isDirectory()) {
      try {
        const found = await folderInputs(a, command);
        if (found.length === 0) {
          plan.failed.push({ input: a, error: new NimgError('BAD_INPUT', `folder ${a} has no ${INPUT_EXTS[command].join('/')} files`) });
        }
        inputs.push(...found);
      } catch (e) {
        plan.failed.push({ input: a, error: new NimgError('BAD_INPUT', `cannot list folder ${a}: ${errno(e)}`, { cause: e }) });
      }
    } else {
      inputs.push(a);
    }
  }

  const ext = OUTPUT_TYPES[command].ext;
  const byOutput = new Map<string, string>();
  for (const input of inputs) {
    const stem = path.basename(input, path.extname(input));
    const output = path.join(outDir, stem + ext);
    const key = path.resolve(output);
    const other = byOutput.get(key);
    if (other !== undefined) {
      if (path.resolve(other) === path.resolve(input)) continue; // named twice (a file and its folder): once
      throw new UsageError(`${other} and ${input} would both write ${output}`);
    }
    byOutput.set(key, input);
    if (key === path.resolve(input)) {
      plan.failed.push({ input, error: new NimgError('BAD_INPUT', `cannot write ${output}: it is the input`) });
      continue;
    }
    const os = await statOrNull(output).catch(() => null);
    if (os?.isDirectory()) {
      plan.failed.push({ input, error: new NimgError('BAD_INPUT', `cannot write ${output}: it is a folder`) });
    } else if (os && !args.force) {
      plan.skipped.push({ input, output });
    } else {
      plan.jobs.push({ index: plan.jobs.length, input, output });
    }
  }
  return plan;
}
