#!/usr/bin/env bash
# The one GPU device check (prepared, short): jtorch sees the GPU, the seed snippets pass on CUDA,
# and the GPT-2-small bf16 step: jtorch compiled vs torch.compile vs hand-written JAX+optax.
# Usage on the device machine: bash benchmarks/device_check.sh   (writes to $OUT)
set -u
export PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -c "import jax, jtorch; print('jax', jax.__version__, jax.devices()); print('cuda available', jtorch.cuda.is_available(), jtorch.cuda.get_device_name())" 2>&1 | tee "$OUT/env.txt"
pass=0; fail=0
for f in examples/seed/0*.py; do
  if timeout 75 python3 -m jtorch run "$f" > "$OUT/seed_$(basename "$f").log" 2>&1; then pass=$((pass+1)); echo "PASS $f"; else fail=$((fail+1)); echo "FAIL $f: $(tail -n 2 "$OUT/seed_$(basename "$f").log" | tr '\n' ' ' | cut -c1-300)"; fi
done 2>&1 | tee "$OUT/seeds.txt"
# one process per program, each with its own time limit, so a slow compile costs only its own row
for case in ${CASES:-jtorch:270 jax:100 torch:150}; do
  w=${case%%:*}; lim=${case##*:}
  timeout "$lim" python3 benchmarks/gpt2_gpu.py --steps 10 ${GPT_ARGS:-} --which "$w" --json "$OUT/gpt2_$w.json" 2>&1 \
    | tail -n 12 | tee "$OUT/gpt2_$w.txt"
  echo "[$w exit ${PIPESTATUS[0]}]"
done
