#!/usr/bin/env node
// nimg command line. The sources are TypeScript: tsx (a runtime dependency) compiles them
// on the fly. See src/node/cli.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/node/cli.ts');
const code = await main(process.argv.slice(2));
// Worker threads of the WASM backend, if any, must not keep the process alive.
process.exit(code);
