#!/bin/bash
# The per-image profile on the device machine, session of 2026-12-06: the TypeScript encoder's
# step time with and without the fused programs, and PyTorch sweeps of whole RD curves (one
# process per image and recipe trains all its lambdas at once: train/perimage/sweep.py).
# From the repo root with .gpu/ carried (bench/gpu/prepare.sh). Everything runs from a copy in
# /tmp/pi-root (a later call replaces the carried .gpu/ under detached workers).
#   PHASE=setup   unpack Node, node_modules, the GL/Vulkan loader; probe the WebGPU adapter
#   PHASE=speed   REFS="none up2,synth,arm" W=768 H=512 STEPS=100: TS ms/step solo, one line per variant
#   PHASE=sweep   JOBS="name|image (path under .gpu/, e.g. calib/100075.jpg)|recipe|lambdas|steps|extra args;..." started detached
#   PHASE=collect UNTIL_S=N: wait until N s after the call's start or no sweep is left; copy to $OUT
set -u
OUT=${OUT:-/tmp/nimg-out}; mkdir -p "$OUT"
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
R=/tmp/pi-runs; mkdir -p $R
case "${PHASE:-setup}" in
setup)
  rm -rf /tmp/pi-root && mkdir -p /tmp/pi-root && cp -r .gpu /tmp/pi-root/ && cd /tmp/pi-root || exit 3
  nproc; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/gpu.txt
  for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  xz -dc .gpu/node.xz > /tmp/pi-root/node && chmod +x /tmp/pi-root/node && ./node --version || exit 3
  tar xJf .gpu/nm.tar.xz -C .gpu
  timeout 60 ./node .gpu/app/probe.mjs > $R/probe.log 2>&1
  if ! grep 'PROBE adapter: ' $R/probe.log | grep -qv 'PROBE adapter: null'; then
    echo "VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json" > $R/env
    env $(cat $R/env) timeout 60 ./node .gpu/app/probe.mjs >> $R/probe.log 2>&1
  fi
  touch $R/env; grep PROBE $R/probe.log; cp $R/probe.log "$OUT/" ;;
speed)
  cd /tmp/pi-root || exit 3
  export NIMG_CORE_WASM=$PWD/.gpu/nimg-core.wasm NIMG_GPU_NAME="$(cat $R/gpu.txt | cut -d, -f1)"
  for ref in ${REFS:-none up2,synth,arm}; do
    a=(); [ "$ref" != none ] && a=(--ref "$ref")
    env $(cat $R/env) timeout 150 ./node .gpu/app/bench/perimage-gpu.js speed --image .gpu/kodak/kodim01.png --w ${W:-768} --h ${H:-512} \
      --steps ${STEPS:-100} --warm 20 "${a[@]}" 2>>$R/speed.log | tee -a $R/speed.jsonl
  done
  cp $R/speed.jsonl "$OUT/" ;;
sweep)
  cd /tmp/pi-root/.gpu/train || exit 3
  IFS=';' read -ra jobs <<< "$JOBS"
  for j in "${jobs[@]}"; do
    IFS='|' read -r name img recipe lams steps extra <<< "$j"
    PYTHONUNBUFFERED=1 setsid nohup python3 sweep.py --image ../$img --recipe $recipe --lambdas $lams --steps $steps \
      --tag $name --out $R/sweep.jsonl --log-every 500 $extra > $R/$name.log 2>&1 < /dev/null &
  done
  sleep 60; for f in $R/*.log; do echo "== $f"; tail -n 1 "$f" | cut -c1-300; done ;;
collect)
  while [ "$(el)" -lt "${UNTIL_S:-0}" ] && pgrep -f sweep.py >/dev/null; do sleep 5; done
  cp $R/*.jsonl "$OUT/" 2>/dev/null
  for f in $R/*.log; do echo "== $f"; tail -n 2 "$f" | cut -c1-400; done | tee "$OUT/logs.txt"
  echo "sweeps alive: $(pgrep -fc sweep.py)"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader ;;
esac
