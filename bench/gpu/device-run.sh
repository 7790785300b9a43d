#!/bin/bash
# Runs on the device machine (from the repo root, with .gpu/ carried; see prepare.sh):
#   bash bench/gpu/device-run.sh [bench options]
#   BENCH=gpu-profile bash bench/gpu/device-run.sh [--runs 3] [--kernels]   (per-stage profile)
#   BENCH=refine-rd SHARDS=3 bash bench/gpu/device-run.sh run --refine 0,100   (refine RD, 3 processes)
# Unpacks the Vulkan/GL loaders, Node and the node_modules subset, probes the WebGPU
# adapter (retrying with the NVIDIA ICD paths set), then runs the bench under a hard
# timeout. Logs and gpu-speed.json go to $OUT.
set -u
OUT=${OUT:-/tmp/nimg-out}; mkdir -p "$OUT"
T0=$(date +%s)
W=/tmp/nimg; mkdir -p "$W"
echo "== host"; nproc; grep -m1 'model name' /proc/cpuinfo
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
echo "== loaders"
if [ -z "${SKIP_GL:-}" ]; then for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
ldconfig -p | grep -E 'libvulkan|libEGL.so' | head -4
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null
echo "== node"
if command -v xz >/dev/null; then xz -dc .gpu/node.xz > "$W/node"; else python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open('.gpu/node.xz'), open(sys.argv[1],'wb'))" "$W/node"; fi
chmod +x "$W/node"; "$W/node" --version || exit 3
echo "== node_modules"
if command -v xz >/dev/null; then tar xJf .gpu/nm.tar.xz -C .gpu; else python3 -c "import tarfile; tarfile.open('.gpu/nm.tar.xz').extractall('.gpu')"; fi
ls .gpu/node_modules .gpu/node_modules/@tensorflow
echo "== probe ($(( $(date +%s) - T0 )) s)"
timeout 60 "$W/node" .gpu/app/probe.mjs 2>&1 | tee "$OUT/probe.log"
has_adapter() { grep 'PROBE adapter: ' "$OUT/probe.log" | grep -qv 'PROBE adapter: null'; }
if ! has_adapter; then
  echo "no adapter: retrying with the NVIDIA ICD / EGL vendor paths"
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$VK_DRIVER_FILES" ] || { f=$(ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json 2>/dev/null | head -1); [ -n "$f" ] && export VK_DRIVER_FILES=$f; }
  echo "VK_DRIVER_FILES=$VK_DRIVER_FILES"
  timeout 60 "$W/node" .gpu/app/probe.mjs 2>&1 | tee -a "$OUT/probe.log"
  has_adapter || { echo "still none: back to the default ICD search"; unset VK_DRIVER_FILES __EGL_VENDOR_LIBRARY_FILENAMES; }
fi
echo "== bench ($(( $(date +%s) - T0 )) s)"
export NIMG_CORE_WASM=$PWD/.gpu/nimg-core.wasm NIMG_WEIGHTS=$PWD/weights/nimg-v1.json NIMG_KODAK=$PWD/.gpu/kodak
set -o pipefail
if [ -n "${SHARDS:-}" ] && [ -n "${DETACH:-}" ]; then
  # DETACH=1: start the shards in their own sessions (they outlive this call) writing to
  # /tmp/nimg-runs/shardK.jsonl; later calls collect with: cat /tmp/nimg-runs/shard*.jsonl
  mkdir -p /tmp/nimg-runs
  for k in $(seq 0 $((SHARDS - 1))); do
    setsid nohup timeout ${BENCH_TIMEOUT:-3000} "$W/node" .gpu/app/bench/${BENCH:-gpu-speed}.js "$@" --shard $k/$SHARDS --out /tmp/nimg-runs/shard$k.jsonl > /tmp/nimg-runs/bench$k.log 2>&1 < /dev/null &
  done
  sleep 60; tail -n 1 /tmp/nimg-runs/bench*.log
elif [ -n "${SHARDS:-}" ]; then
  # SHARDS=N: N processes share the GPU, each with --shard K/N and its own $OUT/shardK.jsonl (refine-rd)
  for k in $(seq 0 $((SHARDS - 1))); do
    timeout ${BENCH_TIMEOUT:-400} "$W/node" .gpu/app/bench/${BENCH:-gpu-speed}.js "$@" --shard $k/$SHARDS --out "$OUT/shard$k.jsonl" > "$OUT/bench$k.log" 2>&1 &
  done
  wait
  tail -n 2 "$OUT"/bench*.log
else
  timeout ${BENCH_TIMEOUT:-400} "$W/node" .gpu/app/bench/${BENCH:-gpu-speed}.js "$@" 2>&1 | tee "$OUT/bench.log"
fi
echo "== done rc=$? ($(( $(date +%s) - T0 )) s)"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader 2>&1
