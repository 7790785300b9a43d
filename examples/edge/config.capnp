# workerd configuration of the nimg edge example. build.mjs writes worker.js and the two
# .wasm files next to a copy of this file; run it with
#   workerd serve config.capnp --directory-path weights=/path/to/weights [--socket-addr http=127.0.0.1:8787]
# (`npm run edge` does all of it). The paths after `embed` are relative to this file.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .nimgWorker),
    # the weight files, read at run time; the directory is given on the command line
    (name = "weights", disk = ()),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const nimgWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    # compiled when workerd loads the worker, not by the worker's code
    (name = "nimg-core.wasm", wasm = embed "nimg-core.wasm"),
    (name = "tfjs-backend-wasm-simd.wasm", wasm = embed "tfjs-backend-wasm-simd.wasm"),
  ],
  bindings = [ (name = "WEIGHTS", service = "weights") ],
  compatibilityDate = "2025-01-01",
);
