"""Does the weighting's verdict depend on how much fine detail the fidelity measure sees? The defaults search at the
default length (`defaults_search.py --only unet16-32-64 v_min_snr`, 1300 steps, seeds 0 1 2: v with no weighting and
v with Min-SNR-5) is sampled once per run (SDE-DPM-Solver++ 20, 50 per digit, seed 0) at each guidance, and the same
images are judged by `FidelityJudge.digits(16, variance=v)` for several feature cuts v: the share of the real digits'
variance whose principal components the features keep (lesson 07's default 0.999 keeps 54 components; 0.9999 keeps
89, the finest detail, the most the reference allows). Writes class_ddpm/results/feature_cut/: one row per
(candidate, guidance, cut) with the means over the seeds and each seed's ratio.

    python -m benchmarks.feature_cut            # after defaults_search.py made the runs (benchmarks/runs/defaults_search_1300)
    python -m benchmarks.feature_cut --quick    # a check that it runs (an untrained model, a temporary folder)
"""
from pathlib import Path

import numpy as np

from benchmarks.common import result_dir, shown_path, FIDELITY_NOTE, RUNS, judge, parser, ratio_axis, setup, write_results

CANDIDATES = {"unet16-32-64": "v, no weighting", "v_min_snr": "v, Min-SNR-5 (the default)"}
CUTS = (0.99, 0.995, 0.999, 0.9995, 0.9999)


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--runs_dir", default=str(RUNS / "defaults_search_1300"), help="the search's run folders (NAME-seedS)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--guidances", nargs="+", type=float, default=[1.0, 1.15])
    p.add_argument("--n_per_class", type=int, default=50)
    args = p.parse_args(argv)
    d = setup(args)
    from class_ddpm.metrics import FidelityJudge, judge_pipeline
    from class_ddpm.pipeline import ClassConditionalPipeline, make_sampler
    n_per_class, seeds, guidances = (3, [0], [1.0]) if args.quick else (args.n_per_class, args.seeds, args.guidances)
    judges = {v: FidelityJudge.digits(16, variance=v) for v in CUTS}
    jd, scores = judge(), {}  # (candidate, guidance, cut) -> per-seed Fidelity
    for name in CANDIDATES:
        for seed in seeds:
            if args.quick:
                from class_ddpm.corruption import make_scheduler
                from class_ddpm.unet import conditional_unet
                pipe = ClassConditionalPipeline(conditional_unet(10, 16, in_channels=1, preset="nano"),
                                                make_scheduler(prediction_type="v_prediction"), class_names=[str(i) for i in range(10)])
            else:
                run = Path(args.runs_dir) / f"{name}-seed{seed}"
                if not (run / "model_index.json").exists():
                    raise SystemExit(f"feature_cut: error: no run at {run}: run `python benchmarks/defaults_search.py --steps 1300 "
                                     f"--only {name} --runs_dir {args.runs_dir} --name defaults_search_nano1300` first")
                pipe = ClassConditionalPipeline.from_pretrained(str(run))
            pipe.scheduler = make_sampler("dpmsolver-sde", pipe.scheduler.config)
            for g in guidances:
                r = judge_pipeline(pipe, jd, n_per_class=n_per_class, seed=0, num_inference_steps=2 if args.quick else 20,
                                   guidance_scale=g)
                for v, fj in judges.items():
                    scores.setdefault((name, g, v), []).append(fj(r["images"], value_range=(0, 1)))
                print(name, seed, g, {v: round(scores[(name, g, v)][-1].ratio, 3) for v in CUTS}, flush=True)
    rows = []
    for (name, g, v), fs in scores.items():
        mean = lambda k: float(np.mean([getattr(f, k) for f in fs]))
        rows.append(dict(candidate=name, guidance=g, variance=v, components=judges[v].features.n_components, n=fs[0].n,
                         ratio=mean("ratio"), ratio_by_seed=" ".join(f"{f.ratio:.2f}" for f in fs), frechet=mean("frechet"),
                         floor=mean("floor"), precision=mean("precision"), precision_floor=mean("precision_floor"),
                         recall=mean("recall"), recall_floor=mean("recall_floor"), seeds=" ".join(map(str, seeds))))
    ratio = {(r["candidate"], r["guidance"], r["variance"]): r["ratio"] for r in rows}
    lines = []
    for g in guidances:
        wins = [v for v in CUTS if ratio[("v_min_snr", g, v)] < ratio[("unet16-32-64", g, v)]]
        lines.append(f"- guidance {g:g}: Min-SNR-5 has the lower mean ratio at the cut(s) {', '.join(f'{v:g}' for v in wins) or 'none'}; "
                     + "; ".join(f"{v:g} ({judges[v].features.n_components} components): "
                                 f"{ratio[('unet16-32-64', g, v)]:.2f}x without weighting, {ratio[('v_min_snr', g, v)]:.2f}x with Min-SNR-5"
                                 for v in CUTS))
    notes = (f"Runs: {'an untrained nano model (--quick)' if args.quick else shown_path(args.runs_dir)}, seeds {' '.join(map(str, seeds))}: {'; '.join(f'{k}: {w}' for k, w in CANDIDATES.items())}. "
             f"Each run sampled once per guidance (SDE-DPM-Solver++ 20, {n_per_class} per digit, n = {10 * n_per_class}, seed 0); "
             f"the same images judged at each feature cut, each cut with its own real-vs-real floor at the same n.\n\n"
             + "\n".join(lines) + "\n\n" + FIDELITY_NOTE)
    cols = ["candidate", "guidance", "variance", "components", "ratio", "ratio_by_seed", "floor", "precision", "recall", "recall_floor"]
    write_results(d, "feature_cut", rows, cols, "Fidelity of the two weightings against the feature cut", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
    for (name, label), color in zip(CANDIDATES.items(), ("C3", "C0")):
        for g, st in zip(guidances, ("--", "-")):
            rs = [r for r in rows if r["candidate"] == name and r["guidance"] == g]
            x = [r["components"] for r in rs]
            axs[0].plot(x, [r["ratio"] for r in rs], "o" + st, color=color, ms=4, label=f"{label}, g={g:g}")
            axs[1].plot(x, [r["precision"] for r in rs], "o" + st, color=color, ms=4)
            axs[1].plot(x, [r["precision_floor"] for r in rs], ":", color="grey", lw=1)
    ratio_axis(axs[0]); axs[0].legend(fontsize=6)
    axs[1].set_ylabel("precision (dotted: real digits)")
    for ax in axs: ax.set_xlabel("principal components kept (finer detail to the right)")
    fig.suptitle(f"the same samples judged with more and more fine detail (n = {rows[0]['n']}, mean of {len(seeds)} seed(s))", fontsize=9)
    plt.tight_layout(); fig.savefig(result_dir(d, "feature_cut") / "feature_cut.png", dpi=100)
    print(f"wrote {result_dir(d, 'feature_cut') / 'feature_cut.png'}")


if __name__ == "__main__": main()
