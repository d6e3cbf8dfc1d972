"""Benchmark 1: time to quality of the default digits training (`class_ddpm_train` with no flags: nano
preset, 16 px, 1300 steps of batch 64, v-prediction with Min-SNR-5 weighting, EMA), or of a candidate of
defaults_search.py (`--candidate NAME`). The run checkpoints every `--every` steps; each checkpoint's EMA weights are
sampled with the saved sampler (SDE-DPM-Solver++, 20 steps) without guidance and at the training's guidance, 50 images
per digit, and judged: the digits judge's accuracy, and fidelity at the training resolution (the Frechet distance
as a ratio to its real-vs-real floor at the same n, KID, precision and recall) against training steps and wall time.
Goal: at least 98% accuracy and at most 1.5x the floor within 5 minutes on 2 CPU cores.

    python -m benchmarks.time_to_quality            # full run: class_ddpm/results/time_to_quality/
    python -m benchmarks.time_to_quality --quick    # a check that it runs (20 steps, a temporary folder)
    python -m benchmarks.time_to_quality --candidate NAME --name time_to_quality_NAME   # a defaults_search candidate
"""
import csv, shutil, time
from pathlib import Path

from benchmarks.common import (result_dir, FIDELITY_NOTE, RUNS, checkpoint_pipeline, checkpoint_seconds, checkpoint_steps, fidelity_text, judge, load_1m,
                    parser, quality, ratio_axis, setup, write_results)
from class_ddpm.metrics import judge_pipeline
from class_ddpm.training import TrainConfig, resolve_config, train


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--run_dir", default=None, help="where the training run goes (default: benchmarks/runs/digits-default, "
                   "reused by sampling.py; with --candidate, benchmarks/runs/ttq-NAME)")
    p.add_argument("--every", type=int, default=100, help="evaluate a checkpoint every this many steps")
    p.add_argument("--n_per_class", type=int, default=50, help="images drawn per digit at each checkpoint")
    p.add_argument("--reuse", action="store_true", help="do not train: evaluate the checkpoints already in --run_dir")
    p.add_argument("--candidate", default=None, help="train a candidate of defaults_search.py (its CANDIDATES) instead of the defaults")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the digits default; with --candidate, 1000)")
    p.add_argument("--name", default="time_to_quality", help="stem of the result files")
    p.add_argument("--wall_from", default=None, help="a run folder of the same model and batch trained on an idle machine: "
                   "wall time at each step is read from its metrics.csv (its `time` column), so a run trained under load "
                   "still gets the wall times of a quiet machine (the wall time of the run itself is kept as wall_s_here)")
    args = p.parse_args(argv)
    d = setup(args)
    default_run = RUNS / ("digits-default" if args.candidate is None else f"ttq-{args.candidate}")
    run = Path(args.run_dir or default_run) if not args.quick else d / "run"
    if args.candidate is None:
        config = TrainConfig(output_dir=str(run), overwrite_output_dir=True, seed=0)
        if args.steps: config.max_train_steps = args.steps
    else:
        from benchmarks.defaults_search import candidate_config, find_candidate
        config = candidate_config(find_candidate(args.candidate), run, steps=args.steps or 1000, seed=0)
    config.checkpointing_steps = args.every
    if args.quick: config.max_train_steps, config.checkpointing_steps, config.num_images_per_class = 20, 10, 1
    n_per_class = 2 if args.quick else args.n_per_class
    load_start = load_1m()
    if not args.reuse:
        start = time.time()
        train(config)
        total = time.time() - start
        (run / "benchmark_start_time.txt").write_text(f"{start}\n{total}\n{load_start}\n")
    start, total, load_start = (float(x) for x in (run / "benchmark_start_time.txt").read_text().split())
    load_train_end = load_1m()
    c = resolve_config(config)
    steps, seconds = checkpoint_steps(run), checkpoint_seconds(run, start)
    here = dict(seconds)
    if args.wall_from:  # the quiet run's clock: seconds since its start at each logged step, interpolated
        import numpy as np
        log = list(csv.DictReader(open(Path(args.wall_from) / "metrics.csv")))
        ls, lt = np.array([float(r["step"]) for r in log]), np.array([float(r["time"]) for r in log])
        rate = (ls[-1] - ls[0]) / (lt[-1] - lt[0])  # beyond its last step, the same rate
        seconds = {s: float(np.interp(s, ls, lt)) if s <= ls[-1] else float(lt[-1] + (s - ls[-1]) / rate) for s in steps}
    jd = judge()
    rows = []
    guidances = sorted({1.0, float(c.guidance_scale)})  # none, and the training's grids (1.5)
    for step, ckpt in sorted(steps.items()):
        pipe = checkpoint_pipeline(run, ckpt)
        row = dict(step=step, wall_s=seconds[step], wall_min=seconds[step] / 60)
        if args.wall_from and not args.reuse: row["wall_s_here"] = here[step]  # (a reused run's files carry no clock)
        for g in guidances:
            r = judge_pipeline(pipe, jd, n_per_class=n_per_class, num_inference_steps=c.num_inference_steps, guidance_scale=g)
            row.update(quality(r, f"_g{g:g}"))
        rows.append(dict(row, load_1m_train_start=load_start, load_1m_eval=load_1m()))
        print(rows[-1], flush=True)
    final, gd = rows[-1], guidances[-1]
    hits = {g: next((r for r in rows if r[f"accuracy_g{g:g}"] >= 0.95), None) for g in guidances}
    best = {g: min(rows, key=lambda r: r[f"ratio_g{g:g}"]) for g in guidances}
    import torch
    def reached(g):
        h = hits[g]
        return (f"at guidance {g:g}, 95% is first reached at step {h['step']}, {h['wall_s'] / 60:.1f} min into the run "
                f"({'within' if h['wall_s'] <= 300 else 'NOT within'} the 5-minute goal)" if h else f"at guidance {g:g}, 95% is not reached")
    what = (("the default digits training" + (f" at {args.steps} steps" if args.steps else "")) if args.candidate is None else f"candidate {args.candidate!r} of defaults_search.py")
    notes = (f"Run: {what}. Training: {c.max_train_steps} steps of batch {c.train_batch_size} in {total:.0f} s "
             f"({c.max_train_steps / total:.2f} steps/s, {c.max_train_steps * c.train_batch_size / total:.0f} images/s, checkpoints "
             f"at steps {', '.join(str(k) for k in sorted(steps))} included), 1-minute load average {load_start} at the start and "
             f"{load_train_end} at the end of training (2 cores, {torch.get_num_threads()} torch thread(s)). "
             + (f"Wall times (`wall_s`) are those of {args.wall_from}, the same model and batch trained on the idle machine "
                f"(its metrics.csv: seconds since the start of training at each step)"
                + (", not of this run (`wall_s_here`). " if not args.reuse else ". ")
                if args.wall_from else "") +
             f"Samples: {c.sampler} {c.num_inference_steps} steps, EMA weights, {n_per_class} per digit "
             f"(n = {final['n_g1']}), without guidance (g=1) and at the guidance of the training's sample grids (g={gd:g}).\n\n"
             + "".join(f"At the end, g={g:g}: accuracy {final[f'accuracy_g{g:g}']:.1%} (worst digit "
                       f"{final[f'worst_digit_accuracy_g{g:g}']:.0%}); {fidelity_text(final, f'_g{g:g}')}; judge_frechet "
                       f"{final[f'judge_frechet_g{g:g}']:.3g}. Lowest ratio over the run: {best[g][f'ratio_g{g:g}']:.2f}x at step "
                       f"{best[g]['step']}.\n\n" for g in guidances)
             + (lambda t: t[0].upper() + t[1:])("; ".join(reached(g) for g in guidances)) + ".\n\n" + FIDELITY_NOTE)
    cols = ["step", "wall_s"] + (["wall_s_here"] if args.wall_from and not args.reuse else []) + [f"{k}_g{g:g}" for g in guidances for k in ("accuracy", "ratio", "kid", "precision", "recall")] \
           + ["n_g1", "floor_g1", "load_1m_eval"]
    write_results(d, args.name, rows, cols, f"Benchmark 1: time to quality of {what}", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, x, label in ((axs[0], [r["step"] for r in rows], "training step"),
                         (axs[1], [r["wall_min"] for r in rows], "wall time (minutes, 2 CPU cores)")):
        ax2 = ax.twinx()
        for g, st in zip(guidances, ("--", "-")):
            ax.plot(x, [100 * r[f"accuracy_g{g:g}"] for r in rows], "o" + st, color="C0", ms=4, label=f"accuracy, g={g:g}")
            ax2.plot(x, [r[f"ratio_g{g:g}"] for r in rows], "s" + st, color="C1", ms=4, label=f"Frechet / floor, g={g:g}")
        ax.axhline(95, color="C0", ls=":", lw=1); ax.set_ylabel("judge accuracy (%)", color="C0"); ax.set_xlabel(label)
        ax.set_ylim(max(0, min(100 * r[f"accuracy_g{g:g}"] for r in rows for g in guidances) - 3), 100.5)
        ratio_axis(ax2); ax2.yaxis.label.set_color("C1")
    axs[0].legend(fontsize=7, loc="center right"); ax2.legend(fontsize=7, loc="upper right")
    axs[1].axvline(5, color="grey", ls="--", lw=1)
    fig.suptitle(f"{what}: accuracy (goal 95%) and Frechet distance over its real-vs-real floor at n={final['n_g1']} "
                 "(dotted: the floor, 1)", fontsize=9)
    plt.tight_layout(); fig.savefig(result_dir(d, args.name) / f"{args.name}.png", dpi=100)
    grids = sorted((run / "samples").glob("epoch_*.png"))
    if grids: shutil.copy(grids[-1], result_dir(d, args.name) / f"{args.name}_samples.png")
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}")
    return rows


if __name__ == "__main__": main()
