"""Multi-process scaling: training images/s of `class_ddpm_train` on the digits with 1 and 2 processes (torchrun, gloo on
the CPU) at the same global batch (64 = 64 x 1 = 32 x 2), timed from the metrics log after a warm-up.

Two layouts, run in alternation so that a change in the machine's load hits each alike: one process with one torch
thread, and two processes with one thread each (both cores); `--two_threads` adds one process with two threads (on a
machine shared with other jobs two threads can spin against each other and take many times longer). A run that
passes `--timeout` seconds is recorded as timed out. The 1-minute load
average is recorded before and after each run: on a machine shared with other jobs the figures are only as clean as
that load says (on 2 cores, a load well above 2 while a run uses both cores means the run was sharing them).

    python -m benchmarks.scaling            # class_ddpm/results/scaling/
    python -m benchmarks.scaling --quick    # a check that it runs (a few steps, a temporary folder)
"""
import os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

from benchmarks.common import result_dir, load_1m, parser, setup, write_results

LAYOUTS = [dict(processes=1, threads=1), dict(processes=2, threads=1)]
TWO_THREADS = dict(processes=1, threads=2)  # --two_threads: one process on both cores


def images_per_step(n: int, batch: int, processes: int, steps: int, seed: int = 0) -> np.ndarray:
    "Images in each of the first `steps` optimiser steps (all processes together), as `class_ddpm.training` plans them."
    from class_ddpm.training import batch_indices, batches_per_epoch
    per_epoch = batches_per_epoch(n, batch, processes)
    return np.array([sum(len(batch_indices(n, batch, seed, m // per_epoch, m % per_epoch, processes, r)) for r in range(processes))
                     for m in range(steps)])


def run(processes: int, threads: int, global_batch: int, steps: int, warmup: int, timeout: float, logging_steps: int = None) -> dict:
    "One `torchrun ... -m class_ddpm.training` run on the digits; its images/s over steps `warmup`..`steps`."
    from class_ddpm.training import read_metrics
    out = Path(tempfile.mkdtemp(prefix="class_ddpm_scaling_")) / "run"
    torchrun = str(Path(sys.executable).parent / "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node", str(processes), "-m", "class_ddpm.training", "--output_dir", str(out),
           "--train_batch_size", str(global_batch // processes), "--max_train_steps", str(steps),
           "--checkpointing_steps", str(10 ** 9), "--save_images_epochs", str(10 ** 6), "--save_model_epochs", str(10 ** 6),
           "--num_images_per_class", "1", "--num_inference_steps", "1", "--eval_batch_size", "10",
           *(["--logging_steps", str(logging_steps)] if logging_steps else [])]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    load_before, t0 = load_1m(), time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        wall = time.perf_counter() - t0
        if r.returncode != 0: raise RuntimeError(f"{' '.join(cmd)} failed:\n{(r.stdout + r.stderr)[-3000:]}")
        m = read_metrics(out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    i, j = int(np.flatnonzero(m["step"] >= warmup)[0]), len(m["step"]) - 1
    secs = float(m["time"][j] - m["time"][i])
    imgs = int(images_per_step(1797, global_batch // processes, processes, int(m["step"][j]))[int(m["step"][i]):].sum())
    return dict(timed_steps=int(m["step"][j] - m["step"][i]), seconds=round(secs, 2), images=imgs, images_per_s=imgs / secs,
                wall_s=round(wall, 1), load_1m_before=load_before, load_1m_after=load_1m())


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=120, help="optimiser steps per run")
    p.add_argument("--warmup", type=int, default=20, help="steps left out of the timing")
    p.add_argument("--repeats", type=int, default=2, help="alternations of the three layouts")
    p.add_argument("--global_batch", type=int, default=64)
    p.add_argument("--two_threads", action="store_true", help="also one process with two threads")
    p.add_argument("--timeout", type=float, default=600, help="seconds one run may take")
    args = p.parse_args(argv)
    layouts = LAYOUTS + ([TWO_THREADS] if args.two_threads else [])
    if args.quick: args.steps, args.warmup, args.repeats, layouts = 6, 2, 1, LAYOUTS
    d = setup(args)
    rows, start = [], time.perf_counter()
    for rep in range(args.repeats):
        for lay in layouts:
            try: res = run(lay["processes"], lay["threads"], args.global_batch, args.steps, args.warmup, args.timeout,
                            logging_steps=1 if args.quick else None)  # --quick: a row per step, so its few steps are timed
            except subprocess.TimeoutExpired:
                res = dict(status=f"timed out after {args.timeout:g} s", images_per_s=float("nan"), load_1m_after=load_1m())
            r = dict(**lay, per_process_batch=args.global_batch // lay["processes"], global_batch=args.global_batch, repeat=rep,
                     **{"status": "measured", **res})
            rows.append(r); print(r, flush=True)
    summary = []
    for lay in layouts:
        rs = [r for r in rows if r["processes"] == lay["processes"] and r["threads"] == lay["threads"]]
        summary.append(dict(**lay, per_process_batch=rs[0]["per_process_batch"], global_batch=args.global_batch, repeat="median",
                            images_per_s=float(np.median([r["images_per_s"] for r in rs])),
                            load_1m_before=float(np.median([r.get("load_1m_before", np.nan) for r in rs])),
                            load_1m_after=float(np.median([r["load_1m_after"] for r in rs]))))
    ref = next(s for s in summary if s["processes"] == 1 and s["threads"] == 1)["images_per_s"]
    for s in summary + rows: s["vs_1x1"] = s["images_per_s"] / ref
    loads = [r[k] for r in rows for k in ("load_1m_before", "load_1m_after") if k in r]
    lines = [f"The digits (1,797 images, 16 px, the digits defaults: the nano preset) with a global batch of {args.global_batch}, "
             f"{args.steps} steps per run, timed over steps {args.warmup}..{args.steps} from the metrics log (images counted as "
             f"planned, the short last batch of each epoch included), {args.repeats} alternating runs per layout; "
             f"`torchrun --standalone --nproc_per_node P -m class_ddpm.training`, gloo on the CPU. "
             f"`vs_1x1` divides by one process with one thread. The whole run took {time.perf_counter() - start:.0f} s."]
    two = {(s["processes"], s["threads"]): s["images_per_s"] for s in summary}
    lines.append(f"Two processes x one thread: {two[(2, 1)]:.0f} images/s against {two[(1, 1)]:.0f} for one process x one "
                 f"thread ({two[(2, 1)] / two[(1, 1)]:.2f}x; 2x would be perfect scaling)."
                 + (f" One process x two threads: {two[(1, 2)]:.0f}." if (1, 2) in two else ""))
    timed_out = [r for r in rows if r["status"] != "measured"]
    if timed_out: lines.append(f"{len(timed_out)} run(s) did not finish: " + "; ".join(
        f"{r['processes']} process(es) x {r['threads']} thread(s): {r['status']}" for r in timed_out) + ".")
    lines.append(f"1-minute load average during the runs: {min(loads):.2f} to {max(loads):.2f} on {os.cpu_count()} cores. "
                 + ("This machine was shared with other jobs and its load was above its core count: the figures are "
                    "contaminated by that sharing and say little about scaling on an idle machine."
                    if max(loads) > (os.cpu_count() or 1) + 0.5 else "The load stayed within the core count."))
    write_results(d, "scaling", summary + rows,
                  ["processes", "threads", "per_process_batch", "global_batch", "repeat", "images_per_s", "vs_1x1",
                   "load_1m_before", "load_1m_after"],
                  "Multi-process scaling on the CPU: 1 and 2 processes at one global batch", "\n\n".join(lines))
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3))
    labels = [f"{s['processes']} proc x {s['threads']} thr" for s in summary]
    ax.bar(range(len(summary)), [s["images_per_s"] for s in summary], color="C0")
    for k, lay in enumerate(layouts):
        ys = [r["images_per_s"] for r in rows if r["processes"] == lay["processes"] and r["threads"] == lay["threads"]]
        ax.plot([k] * len(ys), ys, "k.", ms=6)
    ax.set_xticks(range(len(summary)), labels, fontsize=8)
    ax.set_ylabel("training images / s")
    ax.set_title(f"digits, global batch {args.global_batch} (load {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)", fontsize=9)
    plt.tight_layout(); fig.savefig(result_dir(d, "scaling") / "scaling.png", dpi=100)
    return rows


if __name__ == "__main__": main()
