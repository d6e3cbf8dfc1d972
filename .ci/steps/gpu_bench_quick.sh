#!/usr/bin/env bash
# The GPU benchmark's CPU check: `python -m benchmarks run gpu --quick` runs a couple of tiny settings on the CPU (seconds) into a
# temporary folder, and its CSV must have every column and the expected rows: the original loop and class_ddpm's train
# measured in fp32, ours in bf16, fp16 skipped with its reason (no CUDA here), compile measured or skipped with a reason.
# Runs in the CI venv from the repository root; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
export MPLBACKEND=${MPLBACKEND:-Agg} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
if ! timeout 600 python -m benchmarks run gpu --quick --out "$out" > "$out/log.txt" 2>&1; then
  tail -40 "$out/log.txt"; echo "gpu_bench_quick: python -m benchmarks run gpu --quick failed"; exit 1
fi
python - "$out" <<'PY' || { tail -40 "$out/log.txt"; exit 1; }
import csv, sys
from pathlib import Path
d = Path(sys.argv[1])
d = d / "gpu"  # the benchmark's folder
for f in ("gpu.csv", "gpu.md", "gpu.png"): assert (d / f).exists(), f"no {f} in {d}"
assert not [p for p in d.parent.iterdir() if p.is_file() and p.name != "log.txt"], "files beside the gpu folder"  # log.txt: this step's own log
rows = list(csv.DictReader(open(d / "gpu.csv")))
need = {"loop", "preset", "resolution", "batch", "precision", "compile", "status", "reason", "images_per_s", "vs_original",
        "ms_per_step", "peak_mem_gib", "timed_steps", "warmup_steps", "setting_s", "device", "capability", "torch", "load_1m"}
missing = need - set(rows[0])
assert not missing, f"gpu.csv lacks the columns {sorted(missing)}"
key = lambda r: (r["loop"], r["precision"], r["compile"])
got = {key(r): r for r in rows}
want = {("original", "fp32", "False")} | {("class_ddpm", p, c) for p in ("fp32", "fp16", "bf16") for c in ("False", "True")}
assert set(got) == want and len(rows) == len(want), f"rows {sorted(got)} (and {len(rows)} rows), expected {sorted(want)}"
for k in [("original", "fp32", "False"), ("class_ddpm", "fp32", "False"), ("class_ddpm", "bf16", "False")]:
    r = got[k]
    assert r["status"] == "measured" and float(r["images_per_s"]) > 0 and int(r["timed_steps"]) > 0, f"{k} not measured: {r}"
assert float(got[("class_ddpm", "fp32", "False")]["vs_original"]) > 0
for c in ("False", "True"):
    r = got[("class_ddpm", "fp16", c)]
    assert r["status"] == "skipped" and "CUDA" in r["reason"], f"fp16 on the CPU should be skipped with its reason: {r}"
for p in ("fp32", "bf16"):
    r = got[("class_ddpm", p, "True")]
    assert r["status"] == "measured" or (r["status"] == "skipped" and r["reason"]), f"compile row without a reason: {r}"
assert all(r["device"] == "cpu" and r["torch"] for r in rows), "device and torch version in every row"
print(f"gpu_bench_quick: {len(rows)} rows, columns and statuses as expected")
PY
echo "gpu_bench_quick: passed in $((SECONDS - start)) s"
