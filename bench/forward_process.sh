#!/usr/bin/env bash
# Whole processes: `ferrofold forward` (starting, reading the 373 MB of parameters and the
# features, the forward pass, writing the outputs) against DeepMind's forward pass on the same
# case (tools/reference/bench_forward.py: compile_s and run_s, and its whole process with Python's
# imports), one after the other in the same run. Writes bench/results/forward_process.json.
#
#   bench/forward_process.sh                           # 64 and 128 residues
#   FERROFOLD_BENCH_RESIDUES="64" bench/forward_process.sh
#
# The cases are those of `cargo bench -p ferrofold-model --bench forward` (made by
# tools/reference/make_ref.py, see the top of model/benches/forward.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p ferrofold-inference
python=tools/reference/venv/bin/python
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
rows=()
for residues in ${FERROFOLD_BENCH_RESIDUES:-64 128}; do
    case=target/reference/model_1_ptm_$residues
    if [ ! -f "$case/features.npz" ]; then
        echo "$case missing: make it with tools/reference/make_ref.py" >&2
        continue
    fi
    # %e: wall seconds, %M: peak RSS in KiB.
    /usr/bin/time -f '%e %M' -o "$scratch/ferrofold.time" target/release/ferrofold forward \
        --features "$case/features.npz" --params "$case/params/params_model_1_ptm.npz" \
        --preset model_1_ptm --output "$scratch/outputs.npz" > /dev/null
    /usr/bin/time -f '%e %M' -o "$scratch/jax.time" "$python" tools/reference/bench_forward.py \
        "$case" --runs 1 > "$scratch/jax.json"
    read -r ferrofold_s ferrofold_kib < "$scratch/ferrofold.time"
    read -r jax_process_s jax_kib < "$scratch/jax.time"
    jax=$(tail -n 1 "$scratch/jax.json")
    row=$("$python" - "$residues" "$ferrofold_s" "$ferrofold_kib" "$jax_process_s" "$jax_kib" "$jax" <<'EOF'
import json, sys
residues, ours, ours_kib, jax_process, jax_kib, jax = sys.argv[1:]
jax = json.loads(jax)
print(json.dumps({
    'residues': int(residues),
    'ferrofold_process_s': float(ours),
    'ferrofold_peak_rss_MiB': int(ours_kib) / 1024,
    'jax_run_s': jax['run_s'],
    'jax_compile_s': jax['compile_s'],
    'jax_process_s': float(jax_process),
    'jax_peak_rss_MiB': int(jax_kib) / 1024,
    'ferrofold_process_over_jax_run': float(ours) / jax['run_s'],
    'ferrofold_process_over_jax_process': float(ours) / float(jax_process),
}))
EOF
)
    echo "$row"
    rows+=("$row")
done
mkdir -p bench/results
(IFS=,; echo "[${rows[*]}]") | "$python" -m json.tool > bench/results/forward_process.json
echo "wrote bench/results/forward_process.json"
