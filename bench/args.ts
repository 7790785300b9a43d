/**
 * Command-line options of the bench scripts: `--name value` options and bare `--name` flags,
 * read from process.argv (one parser for every script, so they all read options alike).
 */

/** The value after `--name`, or `def` when the option is absent or last on the line. */
export function opt(name: string, def: string): string;
export function opt(name: string, def?: string): string | undefined;
export function opt(name: string, def?: string): string | undefined {
  const argv = process.argv;
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
}

/** Whether the bare flag `--name` is on the command line. */
export const flag = (name: string): boolean => process.argv.includes(`--${name}`);
