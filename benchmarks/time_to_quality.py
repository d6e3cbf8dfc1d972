"""Benchmark 1: time to quality of the default digits training (`class_ddpm_train` with no flags: tiny
preset, 16 px, 1000 steps of batch 64, v-prediction with no loss weighting, EMA). The run checkpoints every 100
steps; each checkpoint's EMA weights are sampled with the saved sampler (DPM-Solver++, 20 steps, no
guidance), 50 images per digit, and judged by the digits judge: accuracy and Frechet distance against
training steps and wall time. Goal: at least 95% accuracy within 5 minutes on 2 CPU cores.

    python benchmarks/time_to_quality.py            # full run: benchmarks/results/time_to_quality.{csv,md,png}
    python benchmarks/time_to_quality.py --quick    # a check that it runs (20 steps, a temporary folder)
"""
import shutil, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RUNS, checkpoint_pipeline, checkpoint_seconds, checkpoint_steps, judge, load_1m, parser, setup, write_results
from class_ddpm.metrics import judge_pipeline
from class_ddpm.training import TrainConfig, resolve_config, train


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--run_dir", default=str(RUNS / "digits-default"), help="where the training run goes (reused by sampling.py)")
    p.add_argument("--every", type=int, default=100, help="evaluate a checkpoint every this many steps")
    p.add_argument("--n_per_class", type=int, default=50, help="images drawn per digit at each checkpoint")
    p.add_argument("--reuse", action="store_true", help="do not train: evaluate the checkpoints already in --run_dir")
    args = p.parse_args(argv)
    d = setup(args)
    run = Path(args.run_dir) if not args.quick else d / "run"
    config = TrainConfig(output_dir=str(run), overwrite_output_dir=True, checkpointing_steps=args.every, seed=0)
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
    jd = judge()
    rows = []
    guidances = sorted({1.0, float(c.guidance_scale)})  # none, and the training default's grids (1.5)
    for step, ckpt in sorted(steps.items()):
        pipe = checkpoint_pipeline(run, ckpt)
        row = dict(step=step, wall_s=seconds[step], wall_min=seconds[step] / 60)
        for g in guidances:
            r = judge_pipeline(pipe, jd, n_per_class=n_per_class, num_inference_steps=c.ddpm_num_inference_steps, guidance_scale=g)
            row.update({f"accuracy_g{g:g}": r["accuracy"], f"worst_digit_g{g:g}": min(r["per_class"].values()),
                        f"frechet_g{g:g}": r["frechet"], f"sample_s_per_image_g{g:g}": r["seconds_per_image"]})
        rows.append(dict(row, load_1m_train_start=load_start, load_1m_eval=load_1m()))
        print(rows[-1], flush=True)
    final, gd = rows[-1], guidances[-1]
    hits = {g: next((r for r in rows if r[f"accuracy_g{g:g}"] >= 0.95), None) for g in guidances}
    import torch
    real = jd.real_digits(c.resolution)  # the real digits as the model saw them
    floor = jd.frechet(real[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:n_per_class * 10]])
    def reached(g):
        h = hits[g]
        return (f"at guidance {g:g}, 95% is first reached at step {h['step']}, {h['wall_s'] / 60:.1f} min into the run "
                f"({'within' if h['wall_s'] <= 300 else 'NOT within'} the 5-minute goal)" if h else f"at guidance {g:g}, 95% is not reached")
    notes = (f"Training: {c.max_train_steps} steps of batch {c.train_batch_size} in {total:.0f} s ({c.max_train_steps / total:.2f} steps/s, "
             f"{c.max_train_steps * c.train_batch_size / total:.0f} images/s, checkpoints every {config.checkpointing_steps} steps "
             f"included), 1-minute load average {load_start} at the start and {load_train_end} at the end of training "
             f"(2 cores, {torch.get_num_threads()} torch thread(s)). "
             f"Samples: DPM-Solver++ {c.ddpm_num_inference_steps} steps, EMA weights, {n_per_class} per digit, without guidance "
             f"(g=1) and at the guidance of the training's sample grids (g={gd:g}). "
             f"Final accuracy {final['accuracy_g1']:.1%} at g=1 and {final[f'accuracy_g{gd:g}']:.1%} at g={gd:g}; Frechet distance "
             f"{final['frechet_g1']:.1f} and {final[f'frechet_g{gd:g}']:.1f} (real digits against real digits at the same n: {floor:.1f}). "
             + (lambda t: t[0].upper() + t[1:])("; ".join(reached(g) for g in guidances)) + ".")
    cols = ["step", "wall_s"] + [f"{k}_g{g:g}" for g in guidances for k in ("accuracy", "frechet")] + ["load_1m_eval"]
    write_results(d, "time_to_quality", rows, cols, "Benchmark 1: time to quality of the default digits training", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, x, label in ((axs[0], [r["step"] for r in rows], "training step"),
                         (axs[1], [r["wall_min"] for r in rows], "wall time (minutes, 2 CPU cores)")):
        ax2 = ax.twinx()
        for g, st in zip(guidances, ("--", "-")):
            ax.plot(x, [100 * r[f"accuracy_g{g:g}"] for r in rows], "o" + st, color="C0", ms=4, label=f"accuracy, g={g:g}")
            ax2.plot(x, [r[f"frechet_g{g:g}"] for r in rows], "s" + st, color="C1", ms=4, label=f"Frechet, g={g:g}")
        ax.axhline(95, color="C0", ls=":", lw=1); ax.set_ylabel("judge accuracy (%)", color="C0"); ax.set_xlabel(label)
        ax.set_ylim(max(0, min(100 * r[f"accuracy_g{g:g}"] for r in rows for g in guidances) - 3), 100.5)
        ax2.set_yscale("log"); ax2.axhline(floor, color="C1", ls=":", lw=1); ax2.set_ylabel("Frechet distance (log)", color="C1")
    axs[0].legend(fontsize=7, loc="center right"); ax2.legend(fontsize=7, loc="upper right")
    axs[1].axvline(5, color="grey", ls="--", lw=1)
    fig.suptitle(f"default digits training: accuracy (goal 95%) and Frechet distance (dotted: real-digit floor)", fontsize=9)
    plt.tight_layout(); fig.savefig(d / "time_to_quality.png", dpi=100)
    grids = sorted((run / "samples").glob("epoch_*.png"))
    if grids: shutil.copy(grids[-1], d / "time_to_quality_samples.png")
    print(f"wrote {d / 'time_to_quality.png'}")
    return rows


if __name__ == "__main__": main()
