#!/bin/bash
# The per-image profile on the device machine, session of 2026-12-06: the TypeScript encoder's
# step time with and without the fused programs, and PyTorch sweeps of whole RD curves (one
# process per image and recipe trains all its lambdas at once: train/perimage/sweep.py).
# From the repo root with .gpu/ carried (bench/gpu/prepare.sh). Everything runs from a copy in
# /tmp/pi-root (a later call replaces the carried .gpu/ under detached workers).
#   PHASE=setup   unpack Node, node_modules, the GL/Vulkan loader; probe the WebGPU adapter
#   PHASE=speed   SPEEDS="none:1 up2,synth,arm:1 none:6 none:1:64" W=768 H=512 STEPS=100: TS ms/step solo, one line
#                 per variant REF:MEMBERS[:SUBMIT] (REF: fused parts run as tfjs ops, or none; MEMBERS: lambdas
#                 a step; SUBMIT: tfjs-webgpu's dispatches per queue submission, default 15)
#   PHASE=sweep   JOBS="name|image (path under .gpu/, e.g. calib/100075.jpg)|recipe|lambdas|steps|extra args;..." started detached
#   PHASE=jobs    BUDGET_S=N WORKERS=W [SUBMIT=N]: the TypeScript encoder over a Kodak queue, detached. Picks
#                 the queue .gpu/queue-sS.jsonl (bench/perimage-queue.ts --steps S) with the largest
#                 S whose 24 Kodak images fit N s at the ms/step of the speed phase's 6-member line
#   PHASE=decode  MATCH=-l1.5e-3- RUNS=5: WebGPU decode time of the finished files (perimage-gpu.js decode)
#   PHASE=collect UNTIL_S=N: wait until N s after the call's start or no sweep/job is left; copy
#                 to $OUT (rows.tar: NAME.json + NAME.nimg of the finished jobs)
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
  for v in ${SPEEDS:-none:1 up2,synth,arm:1 none:6}; do
    IFS=: read -r ref mem sub <<< "$v"; a=(--members "$mem"); [ "$ref" != none ] && a+=(--ref "$ref"); [ -n "$sub" ] && a+=(--submit-batch "$sub")
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
jobs)
  cd /tmp/pi-root || exit 3
  [ -f $R/speed.jsonl ] || touch $R/speed.jsonl
  S=$(python3 - $R/speed.jsonl ${BUDGET_S:-1000} <<'EOF2'
import json, sys, glob
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
k6 = [r['msPerStep'] for r in rows if r.get('members') == 6 and not r.get('ref')]
ms = k6[-1] if k6 else 100.0
have = sorted(int(p.split('-s')[-1].split('.')[0]) for p in glob.glob('.gpu/queue-s*.jsonl'))
fit = [s for s in have if 24 * s * ms / 1000 <= float(sys.argv[2])]
print(max(fit) if fit else min(have))
EOF2
)
  if [ -n "${QUEUE:-}" ]; then cp "$QUEUE" .gpu/queue.jsonl; else echo "steps $S"; cp .gpu/queue-s$S.jsonl .gpu/queue.jsonl; fi
  wc -l < .gpu/queue.jsonl
  export NIMG_CORE_WASM=$PWD/.gpu/nimg-core.wasm NIMG_GPU_NAME="$(cat $R/gpu.txt | cut -d, -f1)"
  mkdir -p $R/rows
  for k in $(seq 1 ${WORKERS:-2}); do
    env $(cat $R/env) setsid nohup timeout 3000 ./node --max-old-space-size=24000 .gpu/app/bench/perimage-gpu.js jobs --queue .gpu/queue.jsonl --dir $R/rows \
      --worker $k --concurrency ${WORKERS:-2} --members 6 ${SUBMIT:+--submit-batch $SUBMIT} > $R/worker$k.log 2>&1 < /dev/null &
    sleep 1
  done
  sleep ${WAIT_S:-20}; tail -n 2 $R/worker*.log ;;
decode)
  cd /tmp/pi-root || exit 3
  export NIMG_CORE_WASM=$PWD/.gpu/nimg-core.wasm NIMG_GPU_NAME="$(cat $R/gpu.txt | cut -d, -f1)"
  env $(cat $R/env) timeout ${DECODE_S:-120} ./node .gpu/app/bench/perimage-gpu.js decode --dir $R/rows --match "${MATCH:--l1.5e-3-}" \
    --runs ${RUNS:-5} 2>>$R/decode.log | tee $R/decode.jsonl | tail -n 3
  cp $R/decode.jsonl "$OUT/" ;;
collect)
  while [ "$(el)" -lt "${UNTIL_S:-0}" ] && pgrep -f 'sweep.py|perimage-gpu.js jobs' >/dev/null; do sleep 5; done
  (cd $R/rows 2>/dev/null && ls *.json >/dev/null 2>&1 && tar cf "$OUT/rows.tar" $(ls *.json | sed 's/\.json$//' | while read -r n; do echo "$n.json $n.nimg"; done))
  echo "rows done: $(ls $R/rows/*.json 2>/dev/null | wc -l); workers alive: $(pgrep -fc 'perimage-gpu.js jobs')"
  cp $R/*.jsonl "$OUT/" 2>/dev/null
  for f in $R/*.log; do echo "== $f"; tail -n 2 "$f" | cut -c1-400; done | tee "$OUT/logs.txt"
  echo "sweeps alive: $(pgrep -fc sweep.py)"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader ;;
esac
