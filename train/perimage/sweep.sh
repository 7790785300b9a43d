#!/bin/bash
# Runs on the GPU machine: one solo speed probe, then a sweep of encode.py runs side by side
# (small networks leave the GPU idle, so many processes share it). Results: $OUT/runs.jsonl,
# $OUT/logs.txt. Usage: bash train/perimage/sweep.sh SECONDS "IMAGES" "LAMBDAS" STEPS [extra encode.py args]
set -u
secs=$1; images=$2; lambdas=$3; steps=$4; shift 4
K=$PWD/.data/kodak; R=/tmp/pi; mkdir -p $R
cd train/perimage
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
t0=$(date +%s)
python3 encode.py --images $K/kodim04.png --lambdas 0.002 --steps 200 --out $R/solo.jsonl "$@" | tail -n 1
for img in $images; do for lam in $lambdas; do
  PYTHONUNBUFFERED=1 setsid nohup python3 encode.py --images $K/$img.png --lambdas $lam --steps $steps \
    --out $R/runs.jsonl --log-every 500 "$@" > $R/$img-$lam.log 2>&1 < /dev/null &
done; done
for v in ${VARIANTS:-}; do  # VARIANTS="arch=c5 arch=wide noise-frac=0.9" on kodim04 at 0.002
  PYTHONUNBUFFERED=1 setsid nohup python3 encode.py --images $K/kodim04.png --lambdas 0.002 --steps $steps \
    --out $R/variants.jsonl --log-every 500 --${v%%=*} ${v#*=} > $R/v-$v.log 2>&1 < /dev/null &
done
while [ $(( $(date +%s) - t0 )) -lt $secs ]; do
  sleep 5; pgrep -f encode.py >/dev/null || break
done
cp $R/*.jsonl $OUT/ 2>/dev/null
for f in $R/*.log; do echo "== $f"; tail -n 2 $f; done > $OUT/logs.txt
cat $R/runs.jsonl $R/variants.jsonl 2>/dev/null | cut -c1-400
nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader
