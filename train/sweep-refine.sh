# GPU sweep of refinement variants (train/refine.py) on 6 Kodak images x 4 levels, each config
# as two processes (3 images each), all at once; rows of all runs merged into $OUT/all.jsonl
# ({"cfg": "rN.a|b", "row": ...}), configs in $OUT/configs.txt. On the device, carry
# .data/kodak:  N0=7 bash train/sweep-refine.sh   (N0: number of the first config minus 1)
# Edit the `go` lines for other configs; session 6's first set is in train/logs/refine/s6/configs.txt.
C=train/checkpoints/last-fp16.pt; K=.data/kodak
I1=kodim01.png,kodim04.png,kodim08.png; I2=kodim15.png,kodim19.png,kodim23.png
R="timeout 570 python3 train/refine.py --ckpt $C --kodak $K --levels 1,3,5,7 --device cuda --tf32 --sched cos"
n=${N0:-0}
mkdir -p /tmp/sw; rm -f /tmp/sw/*
go() { n=$((n+1)); $R --images $I1 "$@" > /tmp/sw/r$n.a.jsonl 2>/tmp/sw/r$n.a.err & $R --images $I2 "$@" > /tmp/sw/r$n.b.jsonl 2>/tmp/sw/r$n.b.err & echo "$n: $*" >> /tmp/sw/configs.txt; }
go --lr 0.01 --anneal 6 --iters 150 --zmode joint --yfrac 0.34
go --lr 0.01 --anneal 6 --iters 150 --zmode joint --zrate table
go --lr 0.01 --anneal 6 --iters 150 --zmode joint --zrate table --yfrac 0.34
go --lr 0.01 --anneal 6 --iters 150 --zmode joint --zrate table --yfrac 0.5
go --lr 0.01 --anneal 6 --iters 300 --zmode joint --zrate table --yfrac 0.34
go --lr 0.02 --anneal 3 --iters 150 --zmode joint --zrate table --yfrac 0.34
go --lr 0.01 --anneal 6 --iters 100 --zmode joint --zrate table
wait
for f in /tmp/sw/r*.jsonl; do b=$(basename $f .jsonl); sed "s/^/{\"cfg\":\"$b\",\"row\":/; s/\$/}/" $f; done > $OUT/all.jsonl
cat /tmp/sw/*.err | tail -5; cp /tmp/sw/configs.txt $OUT/
