"""Split the training pool into parts small enough to carry to the GPU machine.

A device call carries the working tree plus the named folders, 64 MiB in all; the tree is
~18 MiB (weights + checkpoint), so each part holds at most --mib (default 39) MiB.
Files are hard-linked (no copies) into .data/s1, .data/s2, ... keeping their relative paths.

    python3 train/split_data.py ../shared/data/train
"""
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument('src')
ap.add_argument('--out', default='.data')
ap.add_argument('--mib', type=float, default=39)
args = ap.parse_args()

files = []
for d, _, names in os.walk(args.src):
    for f in names:
        if f.lower().endswith(('.png', '.jpg', '.jpeg', '.webp')):
            full = os.path.join(d, f)
            files.append((os.path.relpath(full, args.src), full, os.path.getsize(full)))
files.sort()
cap, part, acc = args.mib * 2 ** 20, 1, 0
for rel, full, size in files:
    if acc and acc + size > cap:
        part, acc = part + 1, 0
    dst = os.path.join(args.out, f's{part}', rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.exists(dst):
        try:
            os.link(full, dst)
        except OSError:  # other filesystem: copy
            with open(full, 'rb') as a, open(dst, 'wb') as b:
                b.write(a.read())
    acc += size
print(f'{len(files)} files in {part} parts under {args.out}/s1..s{part}')
