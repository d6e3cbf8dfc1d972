"""Benchmark 2: loss weighting none / snr / min_snr (gamma 5) for each of the epsilon, sample and
v_prediction targets, at equal steps and the same seed (so the same batches, noise and labels), with
everything else at the digits defaults. Each run checkpoints several times; each checkpoint's EMA weights
are sampled (DPM-Solver++ 20 steps, the default sampler) and judged (accuracy, Frechet distance).

Reports the speed-up of Min-SNR: the steps min_snr needs to reach the quality that "none" reaches at the
end (the Min-SNR paper reports 3.4x faster convergence), and the best combination.

    python benchmarks/loss_weighting.py            # full run: benchmarks/results/loss_weighting.{csv,md,png}
    python benchmarks/loss_weighting.py --quick    # a check that it runs (a few steps, a temporary folder)
"""
import sys, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RUNS, checkpoint_pipeline, checkpoint_steps, judge, load_1m, parser, setup, write_results
from class_ddpm.metrics import judge_pipeline
from class_ddpm.training import TrainConfig, train

PREDICTIONS = ("epsilon", "sample", "v_prediction")
WEIGHTINGS = ("none", "snr", "min_snr")


def steps_to_reach(rows, key, target, lower_is_better):
    "The first step (linearly interpolated between checkpoints) where rows[key] reaches target; None if never."
    prev = None
    for r in rows:
        ok = r[key] <= target if lower_is_better else r[key] >= target
        if ok:
            if prev is None: return r["step"]
            f = (target - prev[key]) / (r[key] - prev[key]) if r[key] != prev[key] else 1.0
            return prev["step"] + f * (r["step"] - prev["step"])
        prev = r
    return None


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=500, help="training steps of every run")
    p.add_argument("--checkpoints", type=int, default=5, help="evaluations per run, evenly spaced")
    p.add_argument("--n_per_class", type=int, default=20, help="images drawn per digit at each evaluation")
    p.add_argument("--runs_dir", default=str(RUNS / "loss_weighting"))
    p.add_argument("--reuse", action="store_true", help="do not train: evaluate the runs already in --runs_dir")
    p.add_argument("--predictions", nargs="+", default=list(PREDICTIONS), choices=PREDICTIONS, help="targets to compare")
    p.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS), choices=WEIGHTINGS, help="weightings (none is the baseline)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0],
                   help="training seeds; with several, every curve is the mean over the seeds (the table also shows each seed's end)")
    p.add_argument("--name", default="loss_weighting", help="stem of the result files")
    args = p.parse_args(argv)
    d = setup(args)
    steps = 8 if args.quick else args.steps
    every = steps // (2 if args.quick else args.checkpoints)
    n_per_class = 2 if args.quick else args.n_per_class
    runs = (d / "runs") if args.quick else Path(args.runs_dir)
    preds = ("epsilon", "v_prediction") if args.quick else tuple(args.predictions)
    weightings = tuple(w for w in WEIGHTINGS if w in args.weightings or w == "none")
    runs = runs if args.steps == 500 or args.quick else runs.parent / f"{runs.name}-{steps}"
    jd = judge()
    seed_rows = []
    for seed in args.seeds:
        for pred in preds:
            for w in weightings:
                if pred == "epsilon" and w == "snr":  # the epsilon-equivalent weight on the epsilon MSE is 1: the same run as none
                    seed_rows += [dict(r, weighting="snr") for r in seed_rows
                                  if r["prediction_type"] == pred and r["weighting"] == "none" and r["seed"] == seed]
                    continue
                run = runs / (f"{pred}-{w}" + (f"-seed{seed}" if seed else ""))
                load = load_1m()
                if not args.reuse:
                    start = time.time()
                    # grids and pipeline only at the end: the runs differ in the loss alone
                    train(TrainConfig(output_dir=str(run), overwrite_output_dir=True, prediction_type=pred, snr_weighting=w,
                                      snr_gamma=5.0, max_train_steps=steps, checkpointing_steps=every, seed=seed,
                                      save_images_epochs=10**6, save_model_epochs=10**6, num_images_per_class=2))
                    train_s = time.time() - start
                else: train_s = float("nan")
                for step, ckpt in sorted(checkpoint_steps(run).items()):
                    r = judge_pipeline(checkpoint_pipeline(run, ckpt), jd, n_per_class=n_per_class, num_inference_steps=20)
                    seed_rows.append(dict(prediction_type=pred, weighting=w, seed=seed, step=step, accuracy=r["accuracy"],
                                          frechet=r["frechet"], train_s=train_s, load_1m_train_start=load, load_1m_eval=load_1m()))
                    print(seed_rows[-1], flush=True)
    # the curves compared below: the mean over the seeds of each (target, weighting, step)
    rows = []
    for key in dict.fromkeys((r["prediction_type"], r["weighting"], r["step"]) for r in seed_rows):
        rs = [r for r in seed_rows if (r["prediction_type"], r["weighting"], r["step"]) == key]
        rows.append(dict(rs[0], seed="mean", accuracy=float(np.mean([r["accuracy"] for r in rs])),
                         frechet=float(np.mean([r["frechet"] for r in rs])), train_s=float(np.mean([r["train_s"] for r in rs])),
                         accuracy_by_seed=" ".join(f"{r['accuracy']:.3f}" for r in rs),
                         frechet_by_seed=" ".join(f"{r['frechet']:.2f}" for r in rs)))

    # the speed-up of min_snr (and snr) over none, per target: by Frechet distance and by accuracy
    summary, lines = [], []
    for pred in preds:
        curve = {w: [r for r in rows if r["prediction_type"] == pred and r["weighting"] == w] for w in weightings}
        end = {w: curve[w][-1] for w in weightings}
        # a speed-up means something only if none improved over the run (else any first checkpoint "reaches" it)
        none_fd_improved = end["none"]["frechet"] < curve["none"][0]["frechet"]
        none_acc_improved = end["none"]["accuracy"] > curve["none"][0]["accuracy"]
        for w in weightings[1:]:
            s_fd = steps_to_reach(curve[w], "frechet", end["none"]["frechet"], True)
            s_acc = steps_to_reach(curve[w], "accuracy", end["none"]["accuracy"], False)
            first = curve[w][0]["step"]  # reached at the first evaluation: the speed-up is at least this
            summary.append(dict(prediction_type=pred, weighting=w,
                                speedup_frechet=steps / s_fd if s_fd and none_fd_improved else float("nan"),
                                speedup_accuracy=steps / s_acc if s_acc and none_acc_improved else float("nan"),
                                none_improved=(none_fd_improved, none_acc_improved),
                                final_accuracy=end[w]["accuracy"], final_frechet=end[w]["frechet"],
                                none_final_accuracy=end["none"]["accuracy"], none_final_frechet=end["none"]["frechet"],
                                frechet_at_least=s_fd == first, accuracy_at_least=s_acc == first))
    finals = [r for r in rows if r["step"] == max(x["step"] for x in rows)]
    best = min(finals, key=lambda r: (r["frechet"], -r["accuracy"]))
    best_acc = max(finals, key=lambda r: (r["accuracy"], -r["frechet"]))
    for s in summary:
        f = lambda v, lb, ok: ("no speed-up to measure (none did not improve over the run)" if not ok else "not reached"
                               if np.isnan(v) else f"a speed-up of {'at least ' if lb else ''}{v:.2f}x")
        fd_ok, acc_ok = s["none_improved"]
        lines.append(f"- {s['prediction_type']}: {s['weighting']} against none's Frechet distance after {steps} steps "
                     f"({s['none_final_frechet']:.1f}): {f(s['speedup_frechet'], s['frechet_at_least'], fd_ok)}; against its "
                     f"accuracy ({s['none_final_accuracy']:.1%}): {f(s['speedup_accuracy'], s['accuracy_at_least'], acc_ok)}.")
    seeds = ", ".join(map(str, args.seeds))
    notes = (f"{steps} steps of batch 64 per run (seed {seeds}, digits defaults otherwise"
             + (f"; every figure is the mean over the {len(args.seeds)} seeds" if len(args.seeds) > 1 else "")
             + f"), evaluated every {every} steps with "
             f"{n_per_class} images per digit (DPM-Solver++ 20 steps, guidance 1, EMA weights)."
             + (" For the epsilon target the 'snr' weighting (the original script's, the epsilon-equivalent of weight SNR on "
                "the x0 error) is weight 1, so epsilon + snr is the epsilon + none run, not trained twice."
                if "epsilon" in preds and "snr" in weightings else "") + "\n\n"
             "Speed-up (steps of none / steps the weighting needs for none's final quality; above 1 = faster; "
             "speedup_fd by Frechet distance, speedup_acc by accuracy; NaN = not reached):\n\n"
             + "\n".join(lines) + f"\n\nBest at the end by Frechet distance: {best['prediction_type']} + {best['weighting']} "
             f"(Frechet {best['frechet']:.1f}, accuracy {best['accuracy']:.1%}); by accuracy: {best_acc['prediction_type']} + "
             f"{best_acc['weighting']} ({best_acc['accuracy']:.1%}, Frechet {best_acc['frechet']:.1f}).\n")
    # one row per combination (9 rows): accuracy and Frechet distance at each evaluated step, the speed-ups
    wide, ckpts = [], sorted({r["step"] for r in rows})
    for pred in preds:
        for w in weightings:
            rs = {r["step"]: r for r in rows if r["prediction_type"] == pred and r["weighting"] == w}
            row = dict(prediction_type=pred, weighting=w)
            row.update({f"acc@{k}": rs[k]["accuracy"] for k in ckpts if k in rs})
            row.update({f"fd@{k}": rs[k]["frechet"] for k in ckpts if k in rs})
            sp = next((x for x in summary if x["prediction_type"] == pred and x["weighting"] == w), None)
            row["speedup_fd"] = sp["speedup_frechet"] if sp else 1.0
            row["speedup_acc"] = sp["speedup_accuracy"] if sp else 1.0
            if len(args.seeds) > 1:
                row["acc_by_seed"] = rs[ckpts[-1]]["accuracy_by_seed"]; row["fd_by_seed"] = rs[ckpts[-1]]["frechet_by_seed"]
            row["train_s"] = rs[ckpts[-1]]["train_s"]; row["load_1m_train_start"] = rs[ckpts[-1]]["load_1m_train_start"]
            wide.append(row)
    cols = ["prediction_type", "weighting"] + [f"acc@{k}" for k in ckpts] + [f"fd@{ckpts[0]}", f"fd@{ckpts[-1]}", "speedup_fd", "speedup_acc"] \
           + (["acc_by_seed", "fd_by_seed"] if len(args.seeds) > 1 else [])
    title = "Benchmark 2: loss weighting x prediction target" + (f" ({steps} steps)" if args.name != "loss_weighting" else "")
    write_results(d, args.name, wide, cols, title, notes)
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(2, len(preds), figsize=(3.2 * len(preds), 5), sharex=True, squeeze=False)
    for j, pred in enumerate(preds):
        for w, st in zip(weightings, (":", "--", "-")):
            rs = [r for r in rows if r["prediction_type"] == pred and r["weighting"] == w]
            axs[0, j].plot([r["step"] for r in rs], [100 * r["accuracy"] for r in rs], st, marker="o", ms=3, label=w)
            axs[1, j].plot([r["step"] for r in rs], [r["frechet"] for r in rs], st, marker="o", ms=3, label=w)
        axs[0, j].set_title(pred, fontsize=9); axs[1, j].set_yscale("log"); axs[1, j].set_xlabel("training step")
    axs[0, 0].set_ylabel("judge accuracy (%)"); axs[1, 0].set_ylabel("Frechet distance (log)"); axs[0, 0].legend(fontsize=7)
    plt.tight_layout(); fig.savefig(d / f"{args.name}.png", dpi=100)
    print(f"wrote {d / (args.name + '.png')}")
    return rows, summary


if __name__ == "__main__": main()
