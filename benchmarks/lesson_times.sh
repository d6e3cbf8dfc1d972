#!/usr/bin/env bash
# Each lesson alone, top to bottom, as `nbdev_test` runs it, with torch's default threads: the issue's goal is under
# 2 minutes per lesson on 2 CPU cores. Run from the repository root with the package's virtualenv active, on an idle
# machine:  bash benchmarks/lesson_times.sh    (writes class_ddpm/results/lesson_times.{csv,md,columns})
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
unset OMP_NUM_THREADS
out=class_ddpm/results
echo "lesson,result,seconds,load_1m_before" > $out/lesson_times.csv
for nb in nbs/0*.ipynb; do
  load=$(cut -d' ' -f1 /proc/loadavg); start=$(date +%s.%N)
  if nbdev_test --path "$nb" > /dev/null 2>&1; then result=passed; else result=FAILED; fi
  secs=$(python -c "import time; print(round(time.time() - $start, 1))")
  echo "$(basename "$nb" .ipynb),$result,$secs,$load" | tee -a $out/lesson_times.csv
done
echo "lesson,result,seconds,load_1m_before" > $out/lesson_times.columns
cpu=$(python -c "import sys; sys.path.insert(0, 'benchmarks'); from common import machine; print(machine())")
printf '%s\n' "**Lesson run times.** Measured $(date -u '+%Y-%m-%d %H:%M UTC') on: $cpu." "" \
  "Each lesson alone, top to bottom (\`nbdev_test --path nbs/NN_name.ipynb\`, which runs every cell, the tests included), one after another, with torch's default threads. Goal: under 2 minutes each on 2 CPU cores." > $out/lesson_times.md
