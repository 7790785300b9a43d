#!/bin/bash
# Drives training on the GPU machine across several short `device` calls.
#   bash train/gpu.sh start PART MINUTES [RESUME_CKPT] [EXTRA_ARGS...]
#                                   copy .data/PART to /tmp/data, start train.py detached
#   bash train/gpu.sh add PART      copy another data part; training picks it up within a minute
#   bash train/gpu.sh wait SECONDS  wait, then bring back checkpoint (split in <16 MiB files) + logs
# Several runs can share the machine (and the data in /tmp/data): give each its own folder
# with CK=/tmp/ckptB on `start`, and name them all on `wait` with RUNS="/tmp/ckpt /tmp/ckptB";
# then each comes back as one fp16 file $OUT/<folder>.pt plus $OUT/<folder>_log.jsonl
# ($OUT takes at most 8 files).
# The training process runs in its own session (setsid) so it outlives each call; the
# machine stays with us as long as the next call comes within its warm window.
set -u
mode=$1
CK=${CK:-/tmp/ckpt}
mkdir -p /tmp/data $CK
case $mode in
  start)
    part=$2; minutes=$3; resume=${4:-}; shift 4 2>/dev/null || shift $#
    [ -d /tmp/data/$part ] || cp -r .data/$part /tmp/data/
    echo "data: $(find /tmp/data -type f | wc -l) files"
    rm -rf /tmp/train && cp -r train /tmp/train
    nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
    args=(--data /tmp/data --ckpt $CK --minutes "$minutes")
    [ -n "$resume" ] && args+=(--resume "$resume")
    PYTHONUNBUFFERED=1 setsid nohup python3 /tmp/train/train.py "${args[@]}" "$@" > $CK/stdout.log 2>&1 < /dev/null &
    sleep ${SLEEP:-75}; tail -n 20 $CK/stdout.log ;;
  add)
    [ -n "${2:-}" ] && cp -r .data/$2 /tmp/data/ && echo "copied $2: $(find /tmp/data -type f | wc -l) files"
    [ -d .ckpt ] && mkdir -p /tmp/ckpt_in && cp .ckpt/ckpt_part*.pt /tmp/ckpt_in/ && echo "resume checkpoint staged"
    tail -n 5 $CK/stdout.log ;;
  wait)
    secs=$2
    if [ -n "${RUNS:-}" ]; then
      end=$(( $(date +%s) + secs ))
      while [ $(date +%s) -lt $end ]; do
        sleep 10
        n=0; for r in $RUNS; do grep -q '^done' $r/stdout.log 2>/dev/null || n=$((n+1)); done
        [ $n = 0 ] && break
      done
      for r in $RUNS; do
        b=$(basename $r)
        [ -f $r/last.pt ] && python3 -c "
import torch, sys
ck = torch.load('$r/last.pt', map_location='cpu')
ck['model'] = {k: v.half() if v.is_floating_point() else v for k, v in ck['model'].items()}
torch.save(ck, '$OUT/$b.pt'); print('$b: checkpoint step', ck['step'])"
        cp $r/train_log.jsonl $OUT/${b}_log.jsonl 2>/dev/null
        grep '"val"' $r/stdout.log | tail -n 2
        tail -n 1 $r/stdout.log
      done
      exit 0
    fi
    end=$(( $(date +%s) + secs ))
    while [ $(date +%s) -lt $end ]; do
      sleep 10
      grep -q '^done' $CK/stdout.log 2>/dev/null && break
    done
    if [ -f $CK/last.pt ]; then
      python3 - <<'PY'
import torch, os
ck = torch.load('/tmp/ckpt/last.pt', map_location='cpu')
keys = sorted(ck['model'])
half = {0: {}, 1: {}}
tot = 0
for k in keys:
    half[0 if tot < 2.6e6 else 1][k] = ck['model'][k]
    tot += ck['model'][k].numel()
out = os.environ['OUT']
for i in (0, 1):
    torch.save({'model': half[i], 'step': ck['step'], 'elapsed_s': ck['elapsed_s']}, f'{out}/ckpt_part{i}.pt')
print('checkpoint step', ck['step'])
PY
    fi
    cp $CK/train_log.jsonl $CK/stdout.log $OUT/ 2>/dev/null
    grep -v '^{"step"' $CK/stdout.log | tail -n 5
    grep '"val"' $CK/stdout.log | tail -n 3
    tail -n 3 $CK/stdout.log ;;
  export)
    # after training: export + Kodak evaluation of the exported weights on the GPU;
    # .data/kodak is carried for this call only (evaluation, never training)
    while ! grep -q '^done' $CK/stdout.log 2>/dev/null; do sleep 5; done
    python3 - <<'PY'
import torch
ck = torch.load('/tmp/ckpt/last.pt', map_location='cpu')
torch.save({'model': ck['model'], 'step': ck['step'], 'elapsed_s': ck['elapsed_s']}, '/tmp/ckpt/final.pt')
PY
    python3 - <<'PY'
import torch, os
ck = torch.load('/tmp/ckpt/final.pt', map_location='cpu')
keys = sorted(ck['model']); half = ({}, {}); tot = 0
for k in keys:
    half[0 if tot < 2.6e6 else 1][k] = ck['model'][k]; tot += ck['model'][k].numel()
for i in (0, 1):
    torch.save({'model': half[i], 'step': ck['step'], 'elapsed_s': ck['elapsed_s']}, os.environ['OUT'] + f'/ckpt_part{i}.pt')
PY
    mkdir -p $OUT/w
    PYTHONUNBUFFERED=1 python3 train/export.py --ckpt /tmp/ckpt/final.pt --out $OUT/w --kodak .data/kodak \
      --golden $OUT/w --device cuda 2>&1 | tee $OUT/export.log | grep -v ' done$'
    cp $CK/train_log.jsonl $CK/stdout.log $OUT/ ;;
esac
