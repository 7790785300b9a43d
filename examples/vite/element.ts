// One import defines <nimg-img>; configure() tells its decoder worker where tfjs's .wasm files are.
import { configure } from 'nimg/element';

configure({ wasmPaths: new URL('tfjs/', document.baseURI).href });
