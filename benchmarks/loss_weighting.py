"""Benchmark 2: loss weighting none / snr / min_snr (gamma 5) for each of the epsilon, sample and
v_prediction targets, and for two UNet sizes (the default `nano` preset and the original script's shape:
two layers per block and attention at the `tiny` preset's 32-64-64 channels; architecture and weighting may interact),
at equal steps and over seeds (each seed gives the same batches, noise and labels to every combination), with
everything else at the digits defaults. Each run checkpoints several times; each checkpoint's EMA weights are sampled
(SDE-DPM-Solver++ 20 steps, the saved sampler, x0 clipped, guidance 1 so that the training alone is compared) and
judged: the digits judge's accuracy, and fidelity at the training resolution (the Frechet distance as a ratio to its
real-vs-real floor at the same n, KID, precision and recall). Every figure is the mean over the seeds; each seed's
final value is in the table too. The final checkpoint of the first seed's runs is also sampled with DDPM at 250 steps,
the reference sampler, so that a poorly trained model (poor with both) can be told from a poorly sampled one (good with
DDPM only).

Reports the speed-up of Min-SNR: the steps min_snr needs to reach the quality that "none" reaches at the
end (the Min-SNR paper reports 3.4x faster convergence), by ratio and by accuracy, and the best combination.

    python -m benchmarks.loss_weighting            # full run: class_ddpm/results/loss_weighting/
    python -m benchmarks.loss_weighting --quick    # a check that it runs (a few steps, a temporary folder)
"""
import json, time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import (result_dir, FIDELITY_NOTE, RUNS, UNET_SIZES, checkpoint_pipeline, checkpoint_steps, judge, load_1m, parser, quality,
                    ratio_axis, setup, unet_config_dir, write_results)
from class_ddpm.metrics import judge_pipeline
from class_ddpm.pipeline import make_sampler
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


SAMPLER, SAMPLER_STEPS = "dpmsolver-sde", 20  # the saved sampler of every digits model
REFERENCE, REFERENCE_STEPS = "ddpm", 250  # the reference sampler: slow, and good with any target


def sampler_pipeline(run, ckpt, sampler):
    "The run's pipeline with the EMA weights of `ckpt` and the sampler `sampler` (x0 clipped: the pipeline's default)."
    pipe = checkpoint_pipeline(run, ckpt)
    pipe.scheduler = make_sampler(sampler, pipe.scheduler.config)
    return pipe


def judge_checkpoint(run, ckpt, jd, sampler, steps, n_per_class):
    "Judge the EMA weights of `ckpt` with `sampler` at `steps`, guidance 1."
    pipe = sampler_pipeline(run, ckpt, sampler)
    return quality(judge_pipeline(pipe, jd, n_per_class=n_per_class, num_inference_steps=steps, guidance_scale=1.0))


def samples_figure(runs, sizes, preds, weightings, seed, steps, path, per_digit=2):
    """One row per (size, target, weighting) of the first seed's final EMA weights: `per_digit` samples of each digit
    (SDE-DPM-Solver++ 20, guidance 1, the same starting noise in every row), so the rows differ by the training alone."""
    from class_ddpm.pipeline import labelled_grid, to_pil
    images, names = [], []
    for size in sizes:
        for pred in preds:
            for w in weightings:
                run = runs / f"{size}-{pred}-{w}-seed{seed}"
                ckpt = checkpoint_steps(run).get(steps)
                if (pred, w) == ("epsilon", "snr") or ckpt is None: continue  # the same run as none; not trained
                x = sampler_pipeline(run, ckpt, SAMPLER)([d for d in range(10) for _ in range(per_digit)], generator=torch.Generator().manual_seed(0),
                         num_inference_steps=SAMPLER_STEPS, guidance_scale=1.0, output_type="np").images
                images += to_pil(x); names.append(f"{size}, {pred}, {w}")
    labelled_grid(images, names, 10 * per_digit, scale=2).save(path)
    print(f"wrote {path}")


def cached_judgements(run, key, quick):
    "The judgements kept beside a run (step -> row) and a function that adds one, so a later call judges only new ones."
    cache = run / f"benchmark_eval_{key}.json"
    done = {r["step"]: r for r in json.loads(cache.read_text())} if cache.exists() and not quick else {}
    def add(row):
        done[row["step"]] = row
        cache.write_text(json.dumps(list(done.values())))
    return done, add


QUALITY = ("accuracy", "worst_digit_accuracy", "ratio", "frechet", "kid", "kid_se", "precision", "recall", "judge_frechet")


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=500, help="training steps of every run")
    p.add_argument("--checkpoints", type=int, default=5, help="evaluations per run, evenly spaced")
    p.add_argument("--n_per_class", type=int, default=30, help="images drawn per digit at each evaluation (n = 10x)")
    p.add_argument("--runs_dir", default=str(RUNS / "loss_weighting"))
    p.add_argument("--reuse", action="store_true", help="do not train: evaluate the runs already in --runs_dir")
    p.add_argument("--predictions", nargs="+", default=list(PREDICTIONS), choices=PREDICTIONS, help="targets to compare")
    p.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS), choices=WEIGHTINGS, help="weightings (none is the baseline)")
    p.add_argument("--sizes", nargs="+", default=["nano", "original"], choices=list(UNET_SIZES),
                   help="UNet sizes: nano (the default preset) and original (the original script's shape at 32-64-64, see common.UNET_SIZES)")
    p.add_argument("--reference_sizes", nargs="*", default=None, choices=list(UNET_SIZES),
                   help=f"sizes whose first seed's final checkpoints are also judged with {REFERENCE.upper()} {REFERENCE_STEPS} "
                        "(default: every size; give none to skip)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                   help="training seeds; every curve is the mean over the seeds (the table also shows each seed's end)")
    p.add_argument("--name", default="loss_weighting", help="stem of the result files")
    args = p.parse_args(argv)
    d = setup(args)
    steps = 4 if args.quick else args.steps
    every = steps // (2 if args.quick else args.checkpoints)
    n_per_class = 2 if args.quick else args.n_per_class
    runs = (d / "runs") if args.quick else Path(args.runs_dir)
    preds = ("epsilon",) if args.quick else tuple(args.predictions)  # quick: epsilon's none, snr (a copy) and min_snr, both sizes
    weightings = tuple(w for w in WEIGHTINGS if w in args.weightings or w == "none")
    sizes = tuple(args.sizes)
    seeds = args.seeds[:1] if args.quick else args.seeds
    runs = runs if args.steps == 500 or args.quick else runs.parent / f"{runs.name}-{steps}"
    ref_steps = 4 if args.quick else REFERENCE_STEPS
    jd = judge()
    seed_rows, ref_rows = [], []
    for seed in seeds:
        for size in sizes:
            unet_config = unet_config_dir(runs / f"unet-config-{size}", size)  # written even for a preset: the name says the UNet
            for pred in preds:
                for w in weightings:
                    if pred == "epsilon" and w == "snr":  # the epsilon-equivalent weight on the epsilon MSE is 1: the same run as none
                        same = lambda r: (r["size"], r["prediction_type"], r["weighting"], r["seed"]) == (size, pred, "none", seed)
                        seed_rows += [dict(r, weighting="snr") for r in seed_rows if same(r)]
                        ref_rows += [dict(r, weighting="snr") for r in ref_rows if same(r)]
                        continue
                    run = runs / f"{size}-{pred}-{w}-seed{seed}"
                    if args.reuse and not (run / "benchmark_train_s.txt").exists():  # not trained: its mean is over fewer seeds
                        print(f"--reuse: no finished run {run.name}, left out", flush=True); continue
                    load = load_1m()
                    if not (args.reuse or (run / "benchmark_train_s.txt").exists() and checkpoint_steps(run).get(steps)):
                        start = time.time()
                        # grids and pipeline only at the end: the runs differ in the loss (and the UNet) alone
                        train(TrainConfig(output_dir=str(run), overwrite_output_dir=True, prediction_type=pred, snr_weighting=w,
                                          snr_gamma=5.0, max_train_steps=steps, checkpointing_steps=every, seed=seed,
                                          ema_power=0.75,  # the EMA the committed grids ran with (the digits default is 0.5)
                                          model_config_name_or_path=unet_config,
                                          save_images_epochs=10**6, save_model_epochs=10**6, num_images_per_class=2))
                        (run / "benchmark_train_s.txt").write_text(f"{time.time() - start}\n")
                    train_s = float((run / "benchmark_train_s.txt").read_text())
                    done, add = cached_judgements(run, f"{SAMPLER}{SAMPLER_STEPS}_g1_n{n_per_class}", args.quick)
                    for step, ckpt in sorted(checkpoint_steps(run).items()):
                        if step not in done:
                            add(dict(size=size, prediction_type=pred, weighting=w, seed=seed, step=step,
                                     **judge_checkpoint(run, ckpt, jd, SAMPLER, SAMPLER_STEPS, n_per_class),
                                     train_s=train_s, load_1m_train_start=load, load_1m_eval=load_1m()))
                            print({k: done[step][k] for k in ("size", "prediction_type", "weighting", "seed", "step", "accuracy",
                                                              "ratio", "kid", "precision", "recall")}, flush=True)
                        seed_rows.append(done[step])
                    if seed == seeds[0] and size in (sizes if args.reference_sizes is None else args.reference_sizes):
                        done, add = cached_judgements(run, f"{REFERENCE}{ref_steps}_g1_n{n_per_class}", args.quick)
                        if steps not in done:
                            add(dict(size=size, prediction_type=pred, weighting=w, seed=seed, step=steps,
                                     **judge_checkpoint(run, checkpoint_steps(run)[steps], jd, REFERENCE, ref_steps, n_per_class)))
                            print("reference", {k: done[steps][k] for k in ("size", "prediction_type", "weighting", "accuracy", "ratio")}, flush=True)
                        ref_rows.append(done[steps])
    # the curves compared below: the mean over the seeds of each (size, target, weighting, step)
    rows = []
    for key in dict.fromkeys((r["size"], r["prediction_type"], r["weighting"], r["step"]) for r in seed_rows):
        rs = [r for r in seed_rows if (r["size"], r["prediction_type"], r["weighting"], r["step"]) == key]
        rows.append(dict(rs[0], seed="mean", **{k: float(np.mean([r[k] for r in rs])) for k in QUALITY + ("train_s",)},
                         worst_digit_min=min(r["worst_digit_accuracy"] for r in rs),
                         ratio_sd=float(np.std([r["ratio"] for r in rs], ddof=1)) if len(rs) > 1 else 0.0,
                         seeds=" ".join(str(r["seed"]) for r in rs), accuracy_by_seed=" ".join(f"{r['accuracy']:.3f}" for r in rs),
                         ratio_by_seed=" ".join(f"{r['ratio']:.2f}" for r in rs)))
    n, floor = rows[0]["n"], rows[0]["floor"]
    key = lambda r: (r["size"], r["prediction_type"], r["weighting"])
    fast_final = {key(r): r["ratio"] for r in seed_rows if r["seed"] == seeds[0] and r["step"] == steps}  # beside the reference

    # the speed-up of min_snr (and snr) over none, per size and target: by ratio and by accuracy
    summary, lines = [], []
    for size in sizes:
        for pred in preds:
            curve = {w: [r for r in rows if key(r) == (size, pred, w)] for w in weightings}
            curve = {w: c for w, c in curve.items() if c}  # --reuse leaves out runs not trained
            if "none" not in curve: continue
            end = {w: c[-1] for w, c in curve.items()}
            # a speed-up means something only if none improved over the run (else any first checkpoint "reaches" it)
            none_ratio_improved = end["none"]["ratio"] < curve["none"][0]["ratio"]
            none_acc_improved = end["none"]["accuracy"] > curve["none"][0]["accuracy"]
            for w in [w for w in weightings[1:] if w in curve]:
                s_r = steps_to_reach(curve[w], "ratio", end["none"]["ratio"], True)
                s_acc = steps_to_reach(curve[w], "accuracy", end["none"]["accuracy"], False)
                first = curve[w][0]["step"]  # reached at the first evaluation: the speed-up is at least this
                summary.append(dict(size=size, prediction_type=pred, weighting=w,
                                    speedup_ratio=steps / s_r if s_r and none_ratio_improved else float("nan"),
                                    speedup_accuracy=steps / s_acc if s_acc and none_acc_improved else float("nan"),
                                    none_improved=(none_ratio_improved, none_acc_improved),
                                    final_accuracy=end[w]["accuracy"], final_ratio=end[w]["ratio"],
                                    none_final_accuracy=end["none"]["accuracy"], none_final_ratio=end["none"]["ratio"],
                                    ratio_at_least=s_r == first, accuracy_at_least=s_acc == first))
    finals = [r for r in rows if r["step"] == max(x["step"] for x in rows)]
    best = min(finals, key=lambda r: (r["ratio"], -r["accuracy"]))
    best_acc = max(finals, key=lambda r: (r["accuracy"], -r["ratio"]))
    for s in summary:
        f = lambda v, lb, ok: ("no speed-up to measure (none did not improve over the run)" if not ok else "not reached"
                               if np.isnan(v) else f"a speed-up of {'at least ' if lb else ''}{v:.2f}x")
        r_ok, acc_ok = s["none_improved"]
        lines.append(f"- {s['size']}, {s['prediction_type']}: {s['weighting']} against none's ratio after {steps} steps "
                     f"({s['none_final_ratio']:.2f}x the floor): {f(s['speedup_ratio'], s['ratio_at_least'], r_ok)}; against its "
                     f"accuracy ({s['none_final_accuracy']:.1%}): {f(s['speedup_accuracy'], s['accuracy_at_least'], acc_ok)}.")
    desc = lambda r: (f"{r['size']} {r['prediction_type']} + {r['weighting']} (accuracy {r['accuracy']:.1%}, by seed "
                      f"{r['accuracy_by_seed']}; Frechet {r['frechet']:.3g} = {r['ratio']:.2f}x the floor, by seed {r['ratio_by_seed']}; "
                      f"KID {r['kid']:.2g} ± {r['kid_se']:.1g}; precision {r['precision']:.2f}, recall {r['recall']:.2f})")
    notes = (f"{steps} steps of batch 64 per run (seeds {', '.join(map(str, seeds))}, digits defaults otherwise; every figure is "
             f"the mean over the seeds in its `seeds` column), UNet sizes: {', '.join(sizes)}, evaluated every {every} steps with "
             f"{n_per_class} images per digit (n = {n}; SDE-DPM-Solver++ 20 steps, x0 clipped, guidance 1, EMA weights). The real-vs-real floor "
             f"at n = {n}: Frechet {floor:.3g}, KID {rows[0]['kid_floor']:.1g}, precision {rows[0]['precision_floor']:.2f}, "
             f"recall {rows[0]['recall_floor']:.2f}. `ratio@k` is the Frechet distance over that floor at step k (1 = as close "
             f"as real digits)."
             + (" For the epsilon target the 'snr' weighting (the original script's, the epsilon-equivalent of weight SNR on "
                "the x0 error) is weight 1, so epsilon + snr is the epsilon + none run, not trained twice."
                if "epsilon" in preds and "snr" in weightings else "") + "\n\n"
             "Speed-up (steps of none / steps the weighting needs for none's final quality; above 1 = faster; "
             "speedup_ratio by the Frechet ratio, speedup_acc by accuracy; NaN = not reached):\n\n"
             + "\n".join(lines) + f"\n\nBest at the end by ratio: {desc(best)}; by accuracy: {desc(best_acc)}.\n\n"
             + (f"Bad training or bad sampler? `ref_acc` and `ref_ratio` are seed {seeds[0]}'s final weights (UNet size: "
                f"{', '.join(dict.fromkeys(r['size'] for r in ref_rows))}; NaN for the others) sampled with "
                f"{REFERENCE.upper()} at {ref_steps} steps (the reference sampler, x0 clipped, guidance 1, same n): a "
                "combination poor with both is poorly trained; one good with DDPM alone is poorly sampled by the fast sampler. "
                "Seed " + str(seeds[0]) + " with the fast sampler, for comparison: "
                + "; ".join(f"{r['size']} {r['prediction_type']} + {r['weighting']}: {fast_final[key(r)]:.2f}x fast, "
                            f"{r['ratio']:.2f}x DDPM" for r in ref_rows) + ".\n\n" if ref_rows else "")
             + FIDELITY_NOTE)
    # one row per combination: accuracy and ratio at each evaluated step, the final KID, precision, recall, the speed-ups
    wide, ckpts = [], sorted({r["step"] for r in rows})
    for size in sizes:
        for pred in preds:
            for w in weightings:
                rs = {r["step"]: r for r in rows if key(r) == (size, pred, w)}
                if ckpts[-1] not in rs: continue  # not trained (--reuse)
                e = rs[ckpts[-1]]
                row = dict(size=size, prediction_type=pred, weighting=w)
                row.update({f"acc@{k}": rs[k]["accuracy"] for k in ckpts if k in rs})
                row.update({f"ratio@{k}": rs[k]["ratio"] for k in ckpts if k in rs})
                row.update(ratio_sd=e["ratio_sd"], worst_digit=e["worst_digit_min"], n=e["n"], frechet=e["frechet"], floor=e["floor"],
                           kid=e["kid"], kid_se=e["kid_se"], kid_floor=e["kid_floor"], precision=e["precision"],
                           precision_floor=e["precision_floor"], recall=e["recall"], recall_floor=e["recall_floor"],
                           judge_frechet=e["judge_frechet"])
                sp = next((x for x in summary if (x["size"], x["prediction_type"], x["weighting"]) == (size, pred, w)), None)
                row["speedup_ratio"] = sp["speedup_ratio"] if sp else 1.0
                row["speedup_acc"] = sp["speedup_accuracy"] if sp else 1.0
                row["seeds"], row["acc_by_seed"], row["ratio_by_seed"] = e["seeds"], e["accuracy_by_seed"], e["ratio_by_seed"]
                ref = next((r for r in ref_rows if key(r) == (size, pred, w)), None)
                row["ref_acc"], row["ref_ratio"] = (ref["accuracy"], ref["ratio"]) if ref else (float("nan"),) * 2
                row["train_s"] = e["train_s"]; row["load_1m_train_start"] = e["load_1m_train_start"]
                wide.append(row)
    cols = ["size", "prediction_type", "weighting", "seeds"] + [f"acc@{k}" for k in ckpts] + [f"ratio@{ckpts[0]}", f"ratio@{ckpts[-1]}",
            "ratio_sd", "kid", "precision", "recall", "speedup_ratio", "speedup_acc", "acc_by_seed", "ratio_by_seed", "ref_acc", "ref_ratio", "train_s"]
    title = "Benchmark 2: loss weighting x prediction target x UNet size" + (f" ({steps} steps)" if args.name != "loss_weighting" else "")
    write_results(d, args.name, wide, cols, title, notes)
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    panels = [(size, pred) for size in sizes for pred in preds]
    fig, axs = plt.subplots(2, len(panels), figsize=(3.0 * len(panels), 5), sharex=True, squeeze=False)
    for j, (size, pred) in enumerate(panels):
        for w, st in zip(weightings, (":", "--", "-")):
            rs = [r for r in rows if key(r) == (size, pred, w)]
            if not rs: continue
            axs[0, j].plot([r["step"] for r in rs], [100 * r["accuracy"] for r in rs], st, marker="o", ms=3,
                           label=f"{w} (seeds {rs[0]['seeds']})")
            axs[1, j].plot([r["step"] for r in rs], [r["ratio"] for r in rs], st, marker="o", ms=3, label=w)
        axs[0, j].set_title(f"{size}, {pred}", fontsize=9); ratio_axis(axs[1, j], ""); axs[1, j].set_xlabel("training step")
        axs[0, j].legend(fontsize=6)
    axs[0, 0].set_ylabel("judge accuracy (%)"); axs[1, 0].set_ylabel(f"Frechet / floor at n={n} (log)")
    fig.suptitle("mean over the seeds in each legend; dotted line: the real-vs-real floor (1)", fontsize=8)
    plt.tight_layout(); fig.savefig(result_dir(d, args.name) / f"{args.name}.png", dpi=100)
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}")
    samples_figure(runs, sizes, preds, weightings, seeds[0], steps, result_dir(d, args.name) / f"{args.name}_samples.png")
    return rows, summary


if __name__ == "__main__": main()
