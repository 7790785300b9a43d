// workerd (and wrangler, esbuild with the .wasm files external) bind an imported .wasm file
// as a compiled WebAssembly.Module.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
