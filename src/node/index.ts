/**
 * Node-only helpers (`import … from 'nimg/node'`): file-to-file encode/decode and the
 * default asset loader. Everything of the main entry is re-exported.
 */
import './defaults.js';
import { readFile, writeFile } from 'node:fs/promises';
import { decode, encode, type DecodeOptions, type EncodeOptions } from '../codec.js';
import { decodeImageFile } from '../image/index.js';
import { writePngFile } from './png-writer.js';

export * from '../index.js';
export { loadCoreWasm, loadWeights, coreWasmPath, weightsPaths, PACKAGE_ROOT } from './loader.js';
export { main as cli } from './cli.js';
export { writePng, writePngFile, writePngStream, type PngImage, type PngWriteOptions } from './png-writer.js';

/** Encode a PNG or JPEG file to a .nimg file; resolves to the number of bytes written. */
export async function encodeFile(input: string, output: string, options: EncodeOptions = {}): Promise<number> {
  const image = await decodeImageFile(new Uint8Array(await readFile(input)));
  const bytes = await encode(image, options);
  await writeFile(output, bytes);
  return bytes.length;
}

/**
 * Decode a .nimg file to a PNG file. The PNG is written as it is compressed (src/node/png-writer.ts:
 * memory beyond the decoded RGBA is a few rows and zlib's window, not a second copy of the
 * image) through a temporary file renamed at the end, so `output` is never left half written.
 */
export async function decodeFile(input: string, output: string, options: DecodeOptions = {}): Promise<{ width: number; height: number }> {
  const image = await decode(new Uint8Array(await readFile(input)), options);
  await writePngFile(output, image);
  return { width: image.width, height: image.height };
}
