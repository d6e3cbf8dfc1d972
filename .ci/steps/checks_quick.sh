#!/usr/bin/env bash
# The correctness checks' quick forms (tests/soak.py, tests/gpu_check.py): a tiny run killed and resumed 3 times must
# lose nothing and end with the weights of an unbroken run; the GPU checks' script must run end to end on the CPU (fp32
# and bf16: train, checkpoint, resume, sample). Each through the suite's entry point, results in a temporary folder.
# Runs in the CI venv from the repository root; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
export MPLBACKEND=${MPLBACKEND:-Agg} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for check in soak gpu_check; do
  start=$SECONDS
  if ! timeout 300 python -m benchmarks run "$check" --quick > "$out/$check.log" 2>&1; then
    tail -40 "$out/$check.log"; echo "checks_quick: $check --quick failed"; exit 1
  fi
  echo "checks_quick: $check --quick passed in $((SECONDS - start)) s"
done
