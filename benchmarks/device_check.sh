#!/usr/bin/env bash
# The one GPU device check (prepared, short): jtorch sees the GPU, the seed snippets pass on CUDA,
# and the GPT-2-small step: jtorch compiled (bf16 autocast and fp32) vs torch.compile vs
# hand-written JAX+optax. Everything runs against one deadline (BUDGET seconds), so the check ends
# in time even when a compile is slow; later rows are dropped, earlier ones are already in $OUT.
# Usage on the device machine: bash benchmarks/device_check.sh   (writes to $OUT)
set -u
export PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
end=$(( $(date +%s) + ${BUDGET:-500} ))
left() { local l=$(( end - $(date +%s) )); (( l < $1 )) && echo "$l" || echo "$1"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python3 -c "import jax, jtorch, torch; print('jax', jax.__version__, jax.devices(), 'torch', torch.__version__); print('cuda available', jtorch.cuda.is_available(), jtorch.cuda.get_device_name())" 2>&1 | tee "$OUT/env.txt"
# seed snippets in parallel: memory is allocated on demand so the processes share the GPU
for f in $( [[ ${SEEDS:-1} == 1 ]] && ls examples/seed/0*.py ); do
  ( if XLA_PYTHON_CLIENT_PREALLOCATE=false timeout "$(left 90)" python3 -m jtorch run "$f" > "$OUT/seed_$(basename "$f").log" 2>&1
    then echo "PASS $f"; else echo "FAIL $f: $(tail -n 2 "$OUT/seed_$(basename "$f").log" | tr '\n' ' ' | cut -c1-300)"; fi ) &
done 2>&1 | tee "$OUT/seeds.txt"
wait
# cuDNN flash attention against jtorch's XLA attention and torch, forward and gradients
timeout "$(left 90)" python3 benchmarks/sdpa_gpu_check.py 2>&1 | tee "$OUT/sdpa.txt"
# one process per program, each with its own time limit, so a slow compile costs only its own row;
# torch's process must not let JAX (imported to name the device) take 75% of the GPU's memory first
for case in ${CASES:-jtorch:200 jax:100 jax_cudnn:100 torch:150 jtorch_fp32:120}; do
  w=${case%%:*}; lim=$(left "${case##*:}")
  if (( lim < 30 )); then echo "[$w skipped: out of time]" | tee -a "$OUT/skipped.txt"; continue; fi
  XLA_PYTHON_CLIENT_PREALLOCATE=$([[ $w == torch* ]] && echo false || echo true) \
  timeout "$lim" python3 benchmarks/gpt2_gpu.py --steps 10 ${GPT_ARGS:-} --which "$w" --json "$OUT/gpt2_$w.json" 2>&1 \
    | tail -n 12 | tee "$OUT/gpt2_$w.txt"
  echo "[$w exit ${PIPESTATUS[0]}]"
done
