/**
 * Node-only, imported for its effect: makes init() read the core and the weights from the
 * package (src/node/loader.ts) when they are not passed. Imported by the package's entry
 * under the `node` export condition (src/node/main.ts) and by nimg/node, so that the
 * platform-neutral codec never names a Node module.
 */
import { setDefaultAssets } from '../codec.js';
import { loadCoreWasm, loadWeights } from './loader.js';

setDefaultAssets({ loadCoreWasm, loadWeights });
