/**
 * Node-only helpers (`import … from 'nimg/node'`): file-to-file encode/decode and the
 * default asset loader. Everything of the main entry is re-exported.
 */
import './defaults.js';
import { readFile, writeFile } from 'node:fs/promises';
import { decode, encode, type DecodeOptions, type EncodeOptions } from '../codec.js';
import { decodeImageFile, encodePng } from '../image/index.js';

export * from '../index.js';
export { loadCoreWasm, loadWeights, coreWasmPath, weightsPaths, PACKAGE_ROOT } from './loader.js';
export { main as cli } from './cli.js';

/** Encode a PNG or JPEG file to a .nimg file; resolves to the number of bytes written. */
export async function encodeFile(input: string, output: string, options: EncodeOptions = {}): Promise<number> {
  const image = await decodeImageFile(new Uint8Array(await readFile(input)));
  const bytes = await encode(image, options);
  await writeFile(output, bytes);
  return bytes.length;
}

/** Decode a .nimg file to a PNG file. */
export async function decodeFile(input: string, output: string, options: DecodeOptions = {}): Promise<{ width: number; height: number }> {
  const image = await decode(new Uint8Array(await readFile(input)), options);
  await writeFile(output, encodePng(image));
  return { width: image.width, height: image.height };
}
