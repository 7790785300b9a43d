declare module 'upng-js' {
  interface DecodedPng {
    width: number;
    height: number;
    depth: number;
    ctype: number;
    data: Uint8Array;
    tabs: Record<string, unknown>;
    frames: unknown[];
  }
  const UPNG: {
    decode(buf: ArrayBuffer | Uint8Array): DecodedPng;
    toRGBA8(img: DecodedPng): ArrayBuffer[];
    encode(bufs: ArrayBuffer[], w: number, h: number, cnum: number, dels?: number[]): ArrayBuffer;
  };
  export default UPNG;
}
