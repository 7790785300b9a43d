/**
 * The edge example (examples/edge) in workerd, the Cloudflare Workers runtime, from npm: the
 * worker is bundled from the sources, workerd serves it on 127.0.0.1 at a random port, and
 * a .nimg POSTed to it comes back as a PNG whose pixels equal Node's decode of the same file.
 * workerd refuses to compile WASM from bytes, so this also checks that both WASM modules
 * (nimg's core, tfjs's backend) are used precompiled.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NimgCodec } from '../src/codec.js';
import { decodeImageFile, decodePng } from '../src/image/index.js';
// @ts-expect-error plain JS helpers of the example (no declarations)
import { buildEdgeWorker } from '../examples/edge/build.mjs';
// @ts-expect-error plain JS helpers of the example (no declarations)
import { startWorkerd } from '../examples/edge/serve.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');

interface Workerd {
  url: string;
  stop(): Promise<void>;
  log(): string;
}

describe('edge worker in workerd', () => {
  let dir: string;
  let wd: Workerd | null = null;
  let codec: NimgCodec;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nimg-edge-'));
    await buildEdgeWorker({ outdir: dir, source: true });
    wd = (await startWorkerd({ dir, weightsDir: path.join(ROOT, 'weights'), timeoutMs: 30_000 })) as Workerd;
    codec = await NimgCodec.create({ backend: 'wasm', threads: 1 });
  }, 90_000);

  afterAll(async () => {
    await wd?.stop();
    codec?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(body: Uint8Array): Promise<Response> {
    return fetch(wd!.url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(60_000) });
  }

  async function expectSameAsNode(file: Uint8Array): Promise<void> {
    const r = await post(file);
    const text = r.ok ? '' : await r.clone().text();
    expect(r.status, `${text}\n${wd!.log()}`).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    const png = await decodePng(new Uint8Array(await r.arrayBuffer()));
    const node = await codec.decode(file, { backend: 'wasm' });
    expect([png.width, png.height]).toEqual([node.width, node.height]);
    let differing = 0;
    for (let i = 0; i < node.data.length; i++) if (png.data[i] !== node.data[i]) differing++;
    expect(differing).toBe(0);
  }

  it('an opaque photo (240x200, not a multiple of 64): PNG pixels equal Node decode', async () => {
    const photo = await decodeImageFile(new Uint8Array(readFileSync(path.join(ROOT, 'src', 'node', 'sample.png'))));
    await expectSameAsNode(await codec.encode(photo, { quality: 4, backend: 'wasm' }));
  }, 60_000);

  it('with an alpha channel (kept losslessly through DecompressionStream)', async () => {
    const photo = await decodeImageFile(new Uint8Array(readFileSync(path.join(ROOT, 'src', 'node', 'sample.png'))));
    const data = new Uint8ClampedArray(photo.data);
    for (let i = 0; i < photo.width * photo.height; i++) data[i * 4 + 3] = (i * 7) % 256;
    const file = await codec.encode({ width: photo.width, height: photo.height, data }, { quality: 6, backend: 'wasm' });
    expect(codec.probe(file).hasAlpha).toBe(true);
    await expectSameAsNode(file);
    const r = await post(file);
    const png = await decodePng(new Uint8Array(await r.arrayBuffer()));
    for (let i = 0; i < 50; i++) expect(png.data[i * 4 + 3]).toBe(data[i * 4 + 3]);
  }, 60_000);

  it('not a .nimg → 400 with the NimgError code; GET → 405', async () => {
    const bad = await post(new TextEncoder().encode('this is not a nimg file at all, not even close'));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-nimg-error')).toBe('BAD_SIGNATURE');
    const get = await fetch(wd!.url);
    expect(get.status).toBe(405);
  }, 30_000);
});
