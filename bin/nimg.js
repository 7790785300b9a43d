#!/usr/bin/env node
// nimg command line (src/node/cli.ts). An installed package runs the compiled dist/node/cli.js.
// A source checkout (src/ present, which the package never ships) runs the TypeScript
// sources through tsx, a devDependency there, so the CLI never runs a stale build.
import { existsSync } from 'node:fs';

const source = new URL('../src/node/cli.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/node/cli.js'));
}
const code = await main(process.argv.slice(2));
// Worker threads of the WASM backend, if any, must not keep the process alive.
process.exit(code);
