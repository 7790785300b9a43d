/**
 * Every test file runs as a Node consumer of the package would: the codec's default assets
 * (the core and weights read from the checkout) are registered, as the `node` entry does.
 */
import '../src/node/defaults.js';
