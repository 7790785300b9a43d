/**
 * Response headers of the demo server (src/node/web.ts), as docs/serving.md recommends:
 * the media type by extension (.nimg → image/x-nimg), cross-origin isolation (COOP/COEP,
 * so browsers allow SharedArrayBuffer and WASM threads), and caching: names with a content
 * hash are immutable for a year, everything else is revalidated.
 */
import { NIMG_MEDIA_TYPE } from '../format/media-type.js';

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.nimg': NIMG_MEDIA_TYPE,
};

/** `name.0123abcd.ext` (8 or more hex digits before the extension): a content-hashed name. */
const HASHED = /\.[0-9a-f]{8,}\.[a-z0-9]+$/i;

export function responseHeaders(pathname: string, ext: string): Record<string, string> {
  return {
    'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
    // a hashed name never changes content; others may change between deploys
    'cache-control': HASHED.test(pathname) ? 'public, max-age=31536000, immutable' : 'no-cache',
    // a .nimg is not rendered by browsers themselves: never let one sniff it as something else
    'x-content-type-options': 'nosniff',
  };
}
