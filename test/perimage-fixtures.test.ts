/**
 * Per-image files decoded to exactly their expected symbols (the latent grids) and pixels.
 * Data-driven: each fixture is a JSON file in test/fixtures/perimage/ with
 *   { file: base64 of the .nimg (container v2), grids: number[][] (finest first),
 *     rgbaSha256?: hex SHA-256 of the decoded RGBA }
 * Adding a fixture = adding its name to FIXTURES.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';

const FIXTURES = [
  'cpu-default-24x16.json',
];

interface Fixture {
  file: string;
  grids: number[][];
  rgbaSha256?: string;
}

let core: PerImageCore;
beforeAll(async () => {
  core = await createPerImageCore();
});

describe.each(FIXTURES)('fixture %s', (name) => {
  const fx = JSON.parse(readFileSync(new URL(`./fixtures/perimage/${name}`, import.meta.url), 'utf8')) as Fixture;
  const bytes = new Uint8Array(Buffer.from(fx.file, 'base64'));

  it('decodes to the expected latent symbols', () => {
    const f = parsePerImageContainer(bytes);
    const params = core.decodeFileParams(f);
    const grids = core.decodeLatents(params, f.latents, f.header.width, f.header.height);
    expect(grids.map((g) => Array.from(g))).toEqual(fx.grids);
  });

  it('decodes to the expected pixels', () => {
    if (!fx.rgbaSha256) return;
    const f = parsePerImageContainer(bytes);
    const { rgba } = core.decodePayload(f.params, f.latents, f.header.width, f.header.height, { fineScales: f.header.fineScales });
    expect(createHash('sha256').update(rgba).digest('hex')).toBe(fx.rgbaSha256);
  });
});
