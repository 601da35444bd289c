#!/usr/bin/env bash
# The GPU benchmark: the full model_1_ptm forward pass (3 recycles) at 98, 304, 562 and 914
# residues on cuda and wgpu, with ferrofold's fused attention kernel and with burn's operations,
# then the longest chain that fits; seconds and device memory, written to
# bench/results/gpu_<device>.json (model/benches/gpu.rs says what is measured).
#
#   bench/gpu.sh --build   build the benchmark (release, wgpu + cuda) and print its path: do this
#                          on a machine with a compiler, and bring the binary to the GPU
#   bench/gpu.sh           the full run (under 8 minutes), with FERROFOLD_GPU_BENCH=<binary>
#                          or building it first
#   bench/gpu.sh --smoke   small sizes on wgpu only (runs on Mesa's lavapipe without a GPU);
#                          results go to target/gpu-smoke/
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

mode=full
case "${1:-}" in
  "") ;;
  --smoke) mode=smoke ;;
  --build) mode=build ;;
  *) echo "usage: $0 [--build|--smoke]" >&2; exit 2 ;;
esac

build() {
  cargo bench --locked -p ferrofold-model --features "${FERROFOLD_GPU_FEATURES:-wgpu,cuda}" \
    --bench gpu --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1
}

bin=${FERROFOLD_GPU_BENCH:-}
if [ -z "$bin" ]; then
  bin=$(build)
  [ -x "$bin" ] || { echo "building the benchmark failed" >&2; exit 1; }
fi
if [ "$mode" = build ]; then
  echo "$bin"
  exit 0
fi

if [ "$mode" = smoke ]; then
  export FERROFOLD_GPU_DEVICES=wgpu FERROFOLD_BENCH_RESIDUES=16 FERROFOLD_BENCH_MSA=8 \
    FERROFOLD_BENCH_EXTRA_MSA=16 FERROFOLD_BENCH_TEMPLATES=1 FERROFOLD_BENCH_RECYCLES=1 \
    FERROFOLD_BENCH_FIT=0 FERROFOLD_BENCH_OUT=target/gpu-smoke
fi

# Device memory as the driver sees it, sampled through the run (NVIDIA only).
memory_log=$(mktemp)
sampler=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.used --format=csv,noheader,nounits -lms 250 >"$memory_log" &
  sampler=$!
fi
started=$(date +%s)
"$bin"
[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
echo "wall: $(( $(date +%s) - started )) s"
if [ -s "$memory_log" ]; then
  awk -F', ' '{ if ($2 > max) max = $2; name = $1 } END { print name ": peak device memory used " max " MiB (nvidia-smi)" }' "$memory_log"
fi
rm -f "$memory_log"
