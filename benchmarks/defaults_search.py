"""Defaults search: train the digits with each candidate configuration of CANDIDATES below (a
dict of `TrainConfig` overrides), over seeds, each run limited by steps (`--steps`, or a wall budget with
`--budget_s`) and timed; judge each final pipeline (the saved EMA weights) with `judge_pipeline`, 50 images per
digit, with DPM-Solver++ and SDE-DPM-Solver++ (20 steps) at guidance 1, 1.25, 1.5 and 2: the digits judge's
accuracy, and fidelity at the training resolution (Frechet distance over its real-vs-real floor at the same n, KID,
precision, recall).

The rule that picks: among the (candidate, sampler, guidance) whose mean accuracy over the seeds is at least 98%, the
lowest mean ratio (Frechet / floor). The target: that ratio at most 1.5 with at most 5 minutes of training
on 2 cores. Writes class_ddpm/results/defaults_search/: one row per (candidate, sampler, guidance) with the means
and each seed's value; the plot is the frontier, accuracy against ratio over guidance, one line per candidate and
sampler. With `--only NAME` the rows of the other candidates already in defaults_search.csv are kept.

    python -m benchmarks.defaults_search                       # every candidate, seeds 0 1 2, 1000 steps
    python -m benchmarks.defaults_search --only lr4e-3         # one candidate (added to the table)
    python -m benchmarks.defaults_search --budget_s 300        # steps from each candidate's measured speed: a 5-minute budget
    python -m benchmarks.defaults_search --quick               # a check that it runs (a few steps, a temporary folder)
"""
import csv, dataclasses, json, time
from pathlib import Path

import numpy as np

from benchmarks.common import (result_dir, parse_value, FIDELITY_NOTE, RUNS, UNET_SIZES, judge, load_1m, parser, quality, ratio_axis, setup, unet_config_dir,
                    write_results)

# The base of every candidate, set under its overrides so that a candidate names one configuration whatever the digits
# defaults are: v with no weighting and the original script's EMA power 0.75. So "default" and "unet16-32-64" are
# v + none, "v_min_snr" is v + Min-SNR-5 with EMA power 0.75, and "v_min_snr_ema0.5" is the digits default.
SEARCH_BASE = dict(snr_weighting="none", ema_power=0.75)
# The candidates: a name, then `TrainConfig` overrides (anything not given keeps SEARCH_BASE, then the digits defaults;
# the preset is the default of the day: tiny in defaults_search.csv, nano in defaults_search_nano1300.csv). Extra keys:
# "steps_factor" multiplies --steps (batch against steps at a fixed number of images), "unet" names a size of
# common.UNET_SIZES (or is a dict: {"size": ..., any `conditional_unet` override such as block_out_channels}),
# "note" says why the candidate is there. Extend this list; `--only NAME` runs one.
CANDIDATES = [
    dict(name="default", note="the digits defaults when the search ran: v_prediction, no weighting, lr 2e-3 cosine, warm-up 50, batch 64, EMA power 0.75"),
    dict(name="lr4e-3", learning_rate=4e-3, note="twice the peak learning rate"),
    dict(name="lr1e-3", learning_rate=1e-3, note="half the peak learning rate"),
    dict(name="constant_lr", lr_scheduler="constant_with_warmup", note="no cosine decay"),
    dict(name="warmup200", lr_warmup_steps=200, note="a longer warm-up"),
    dict(name="batch32x2", train_batch_size=32, steps_factor=2, note="the same images in twice the steps"),
    dict(name="batch128x0.5", train_batch_size=128, steps_factor=0.5, note="the same images in half the steps"),
    dict(name="ema_power0.5", ema_power=0.5, note="a shorter EMA (decay 0.968 at step 1000, against 0.994)"),
    dict(name="ema_power0.9", ema_power=0.9, note="a longer EMA (decay 0.998 at step 1000)"),
    dict(name="no_ema", use_ema=False, note="the trained weights themselves"),
    dict(name="v_min_snr", snr_weighting="min_snr", note="Min-SNR-5 on the v target"),
    dict(name="eps_min_snr", prediction_type="epsilon", snr_weighting="min_snr", note="epsilon + Min-SNR-5 (the paper's)"),
    dict(name="original_unet", unet="original", note="the original script's UNet shape (two layers per block, attention)"),
    dict(name="batch32", train_batch_size=32, note="half the batch: at a wall budget, 1.6x the steps for 0.8x the images"),
    dict(name="unet32-32-64", unet=dict(size="tiny", block_out_channels=(32, 32, 64)),
         note="32 channels at 8 px too (32-32-64): 1.35x the images per second, so more steps in a wall budget"),
    dict(name="batch32_unet32-32-64", train_batch_size=32, unet=dict(size="tiny", block_out_channels=(32, 32, 64)),
         note="batch32 and unet32-32-64 together"),
    dict(name="unet16-32-64", unet=dict(size="tiny", block_out_channels=(16, 32, 64), norm_num_groups=16),
         note="16 channels at 16 px (16-32-64, GroupNorm of 16 groups): 1.9x the images per second"),
    dict(name="unet32-32-32", unet=dict(size="tiny", block_out_channels=(32, 32, 32)),
         note="32 channels at every level: 1.6x the images per second, a third of the weights"),
    dict(name="batch32_lr1e-3", train_batch_size=32, learning_rate=1e-3, note="batch32 with the learning rate halved with the batch"),
    # the EMA's length on the pick of defaults_search_nano1300 (v + Min-SNR-5, nano, 1300 steps: `v_min_snr`); decay
    # at step 1300 is 1 - 1301 ** -power: 0.9954 (about the last 215 steps) at the original's 0.75
    dict(name="v_min_snr_ema0.5", snr_weighting="min_snr", ema_power=0.5,
         note="v_min_snr with a shorter EMA (decay 0.972 at step 1300: about the last 36 steps): the digits default"),
    dict(name="v_min_snr_ema0.9", snr_weighting="min_snr", ema_power=0.9,
         note="v_min_snr with a longer EMA (decay 0.9984 at step 1300: about the last 630 steps)"),
]
SAMPLERS = ("dpmsolver", "dpmsolver-sde")
GUIDANCES = (1.0, 1.25, 1.5, 2.0)
SPECIAL = ("name", "steps_factor", "unet", "note")


def find_candidate(name: str) -> dict:
    "The candidate called `name`, or an error listing them."
    for c in CANDIDATES:
        if c["name"] == name: return c
    raise SystemExit(f"defaults_search: error: no candidate {name!r}; the candidates are {', '.join(c['name'] for c in CANDIDATES)}")


def candidate_config(cand: dict, output_dir, steps: int, seed: int = 0):
    "The `TrainConfig` of candidate `cand`: its overrides on the digits defaults, `steps` (times its steps_factor), `seed`."
    from class_ddpm.training import TrainConfig
    kw = {**SEARCH_BASE, **{k: v for k, v in cand.items() if k not in SPECIAL}}
    unknown = set(kw) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown: raise SystemExit(f"defaults_search: error: candidate {cand['name']!r} sets {sorted(unknown)}, not TrainConfig fields")
    out = Path(output_dir)
    if "unet" in cand:  # a UNet config written beside the run folder (training overwrites the run folder)
        spec = cand["unet"] if isinstance(cand["unet"], dict) else dict(size=cand["unet"])
        spec = dict(spec); size = spec.pop("size", "tiny")
        kw["model_config_name_or_path"] = unet_config_dir(out.parent / f"{out.name}-unet-config", size,
                                                          resolution=kw.get("resolution", 16), **spec)
    kw.setdefault("max_train_steps", max(1, round(steps * cand.get("steps_factor", 1))))
    return TrainConfig(output_dir=str(out), overwrite_output_dir=True, seed=seed, **kw)


def measured_steps_per_second(cand: dict, folder, steps: int = 30, warmup: int = 10) -> float:
    "The candidate's training speed: a short run with no grids or checkpoints, steps per second after `warmup` steps."
    from class_ddpm.training import read_metrics, train
    c = candidate_config(cand, folder, steps=steps)
    c.max_train_steps, c.checkpointing_steps, c.save_images_epochs, c.save_model_epochs = steps, 10 ** 9, 10 ** 6, 10 ** 6
    train(c)
    m = read_metrics(folder)  # one row per --logging_steps steps
    step, t = np.asarray(m["step"], dtype=float), np.asarray(m["time"], dtype=float)
    first = int(np.searchsorted(step, warmup))
    return (step[-1] - step[first]) / (t[-1] - t[first])


def evaluate(run, jd, samplers, guidances, n_per_class, sampler_steps):
    """Judge the run's saved pipeline with each sampler and guidance: a list of rows. Each judgement is kept in the run's
    `defaults_search_eval.json` (cleared when the run is trained again), so a stopped search goes on and `--reuse` is cheap."""
    from class_ddpm.metrics import judge_pipeline
    from class_ddpm.pipeline import ClassConditionalPipeline, make_sampler
    from benchmarks.common import device
    cache_file = Path(run) / "defaults_search_eval.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    pipe = ClassConditionalPipeline.from_pretrained(str(run)).to(device())
    train_config = pipe.scheduler.config
    rows = []
    for sampler in samplers:
        pipe.scheduler = make_sampler(sampler, train_config)
        for g in guidances:
            key = f"{sampler} {sampler_steps} {g:g} {n_per_class}"
            if key not in cache:
                r = judge_pipeline(pipe, jd, n_per_class=n_per_class, seed=0, num_inference_steps=sampler_steps, guidance_scale=g)
                cache[key] = dict(sampler=sampler, sampler_steps=sampler_steps, guidance=g, **quality(r))
                cache_file.write_text(json.dumps(cache, indent=1))
            rows.append(cache[key])
            print({k: rows[-1][k] for k in ("sampler", "guidance", "accuracy", "ratio", "kid", "precision", "recall")}, flush=True)
    return rows


def mean_rows(seed_rows: list) -> list:
    "One row per (candidate, sampler, guidance): the mean over the seeds, the worst digit over them, each seed's accuracy and ratio."
    out = []
    for key in dict.fromkeys((r["candidate"], r["sampler"], r["guidance"]) for r in seed_rows):
        rs = [r for r in seed_rows if (r["candidate"], r["sampler"], r["guidance"]) == key]
        m = lambda k: float(np.mean([r[k] for r in rs]))
        out.append(dict(candidate=key[0], sampler=key[1], guidance=key[2], sampler_steps=rs[0]["sampler_steps"],
                        seeds=len(rs), train_steps=rs[0]["train_steps"], train_batch_size=rs[0]["train_batch_size"],
                        train_s=m("train_s"), accuracy=m("accuracy"), worst_digit_accuracy=min(r["worst_digit_accuracy"] for r in rs),
                        n=rs[0]["n"], ratio=m("ratio"), ratio_sd=float(np.std([r["ratio"] for r in rs], ddof=1)) if len(rs) > 1 else 0.0,
                        frechet=m("frechet"), floor=rs[0]["floor"], kid=m("kid"), kid_se=m("kid_se"), kid_floor=rs[0]["kid_floor"],
                        precision=m("precision"), precision_floor=rs[0]["precision_floor"], recall=m("recall"),
                        recall_floor=rs[0]["recall_floor"], judge_frechet=m("judge_frechet"),
                        seconds_per_image=m("seconds_per_image"),
                        accuracy_by_seed=" ".join(f"{r['accuracy']:.3f}" for r in rs),
                        ratio_by_seed=" ".join(f"{r['ratio']:.2f}" for r in rs),
                        train_s_by_seed=" ".join(f"{r['train_s']:.0f}" for r in rs),
                        load_1m_train_start=m("load_1m_train_start"), config=rs[0]["config"]))
    return out


def pick(rows: list, min_accuracy: float = 0.98):
    "The rule: among rows with mean accuracy >= min_accuracy, the lowest mean ratio; (row, True), or (most accurate row, False)."
    ok = [r for r in rows if r["accuracy"] >= min_accuracy]
    if ok: return min(ok, key=lambda r: (r["ratio"], -r["accuracy"])), True
    return max(rows, key=lambda r: (r["accuracy"], -r["ratio"])), False


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run these candidates only (the others' rows are kept)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds of every candidate")
    p.add_argument("--steps", type=int, default=1000, help="training steps of every run (times a candidate's steps_factor)")
    p.add_argument("--budget_s", type=float, default=None,
                   help="instead of --steps: a wall budget; each candidate's steps = budget x its speed measured in a short run")
    p.add_argument("--n_per_class", type=int, default=50, help="images drawn per digit for each judgement")
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS))
    p.add_argument("--guidances", nargs="+", type=float, default=list(GUIDANCES))
    p.add_argument("--sampler_steps", type=int, default=20)
    p.add_argument("--min_accuracy", type=float, default=0.98, help="the rule's accuracy floor")
    p.add_argument("--runs_dir", default=str(RUNS / "defaults_search"))
    p.add_argument("--reuse", action="store_true", help="do not train: judge the runs already in --runs_dir")
    p.add_argument("--name", default="defaults_search", help="stem of the result files")
    p.add_argument("--length_note", default=None,
                   help="how the runs' lengths were chosen, for the notes (e.g. steps per candidate from an idle machine's speed, "
                        "with runs trained under load): then train_s is not an idle time and the 300 s check is left out")
    args = p.parse_args(argv)
    d = setup(args)
    cands = [find_candidate(n) for n in args.only] if args.only else list(CANDIDATES)
    runs = Path(args.runs_dir) if not args.quick else d / "runs"
    seeds, steps, n_per_class = args.seeds, args.steps, args.n_per_class
    samplers, guidances, sampler_steps = args.samplers, args.guidances, args.sampler_steps
    if args.quick:
        cands = cands[:1] if args.only else [find_candidate("default")]
        seeds, steps, n_per_class, samplers, guidances, sampler_steps = [0], 4, 2, ["dpmsolver"], [1.0, 1.5], 2
    jd = judge()
    seed_rows = []
    for cand in cands:
        for seed in seeds:
            run = runs / f"{cand['name']}-seed{seed}"
            n_steps = steps
            if args.budget_s and not args.reuse and not args.quick:
                rate = measured_steps_per_second(cand, runs / f"{cand['name']}-speed")
                n_steps = max(1, int(args.budget_s * rate / cand.get("steps_factor", 1)))
                print(f"{cand['name']}: {rate:.2f} steps/s -> {n_steps} steps for {args.budget_s:.0f} s", flush=True)
            config = candidate_config(cand, run, n_steps, seed)
            if args.quick: config.num_images_per_class, config.checkpointing_steps = 1, 10 ** 9
            load = load_1m()
            state = run / "training_state.json"
            finished = (run / "defaults_search_time.json").exists() and state.exists() and \
                json.loads(state.read_text())["global_step"] == config.max_train_steps
            if not args.reuse and not finished:  # a finished run of these steps is kept: a stopped search goes on
                from class_ddpm.training import train
                (run / "defaults_search_eval.json").unlink(missing_ok=True)
                start = time.time(); train(config); train_s = time.time() - start
                (run / "defaults_search_time.json").write_text(json.dumps(dict(train_s=train_s, load_1m_train_start=load)))
            t = json.loads((run / "defaults_search_time.json").read_text())
            st = json.loads(state.read_text())
            over = {k: v for k, v in cand.items() if k not in ("name", "note")}
            for r in evaluate(run, jd, samplers, guidances, n_per_class, sampler_steps):
                seed_rows.append(dict(candidate=cand["name"], seed=seed, train_steps=st["global_step"],
                                      train_batch_size=st["config"]["train_batch_size"], train_s=t["train_s"],
                                      load_1m_train_start=t["load_1m_train_start"], load_1m_eval=load_1m(),
                                      config=json.dumps(over, sort_keys=True), **r))
    rows = mean_rows(seed_rows)
    done = {c["name"] for c in cands}
    if args.only and not args.quick and (result_dir(d, args.name) / f"{args.name}.csv").exists():  # keep the other candidates' rows
        with open(result_dir(d, args.name) / f"{args.name}.csv") as f:
            kept = [{k: parse_value(v) for k, v in r.items()} for r in csv.DictReader(f) if r["candidate"] not in done]
        rows = kept + rows
    best, met = pick(rows, args.min_accuracy)
    under = [r for r in rows if r["accuracy"] >= args.min_accuracy]
    defaults = [r for r in rows if r["candidate"] == "default"]
    def line(r):
        return (f"{r['candidate']} with {r['sampler']} {r['sampler_steps']} steps at guidance {r['guidance']:g}: accuracy "
                f"{r['accuracy']:.1%} (by seed {r['accuracy_by_seed']}; worst digit {r['worst_digit_accuracy']:.0%}), Frechet "
                f"{r['frechet']:.3g} = {r['ratio']:.2f}x (sd {r['ratio_sd']:.2f} over seeds; by seed {r['ratio_by_seed']}) the "
                f"real-vs-real floor {r['floor']:.3g} at n={r['n']}, KID {r['kid']:.2g} ± {r['kid_se']:.1g} (floor "
                f"{r['kid_floor']:.1g}), precision {r['precision']:.2f} (floor {r['precision_floor']:.2f}), recall "
                f"{r['recall']:.2f} (floor {r['recall_floor']:.2f}); {r['train_steps']} steps of batch {r['train_batch_size']} "
                f"in {r['train_s']:.0f} s of training (mean over {r['seeds']} seed(s))")
    length = (args.length_note or (f"each run {args.budget_s:.0f} s of training (steps from its measured speed)" if args.budget_s
                                   else f"{steps} steps per run"))
    notes = (f"Candidates: {', '.join(sorted({r['candidate'] for r in rows}))} ({length}, seeds {' '.join(map(str, seeds))}; "
             f"the `config` column holds each candidate's overrides of the digits defaults). Each final pipeline (EMA weights) "
             f"judged with {', '.join(samplers)} at {sampler_steps} steps and guidance {', '.join(f'{g:g}' for g in guidances)}, "
             f"{n_per_class} images per digit (n = {rows[0]['n']}). `train_s` is the wall time of `train()` (grids and checkpoints "
             f"as the digits defaults make them); `load_1m_train_start` the machine's load when it started.\n\n"
             f"Rule: among the (candidate, sampler, guidance) whose mean accuracy over the seeds is at least {args.min_accuracy:.0%}, "
             f"the lowest mean ratio. "
             + (f"Picked: {line(best)}. " if met else f"No setting reaches {args.min_accuracy:.0%}; the most accurate: {line(best)}. ")
             + (f"The target (ratio at most 1.5 with at most 300 s of training) is "
                f"{'MET' if met and best['ratio'] <= 1.5 and best['train_s'] <= 300 else 'NOT met'} by it. " if not args.length_note
                else "The target is a ratio of at most 1.5 within the run lengths said above. ")
             + f"{len(under)} of {len(rows)} settings reach the accuracy floor."
             + (f" Today's default at its best by the same rule: {line(pick(defaults, args.min_accuracy)[0])}." if defaults else "")
             + "\n\n" + FIDELITY_NOTE)
    cols = ["candidate", "sampler", "guidance", "train_steps", "train_s", "accuracy", "worst_digit_accuracy", "ratio", "ratio_sd",
            "kid", "kid_se", "precision", "recall", "judge_frechet", "accuracy_by_seed", "ratio_by_seed"]
    write_results(d, args.name, rows, cols, "Defaults search: candidates x samplers x guidance", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    for i, name in enumerate(names):
        for sampler, st in zip(dict.fromkeys(r["sampler"] for r in rows), ("-", "--", ":", "-.")):
            rs = sorted((r for r in rows if r["candidate"] == name and r["sampler"] == sampler), key=lambda r: r["guidance"])
            if not rs: continue
            ax.plot([100 * r["accuracy"] for r in rs], [r["ratio"] for r in rs], st, marker="o", ms=3, color=f"C{i % 10}",
                    label=f"{name}, {sampler}")
            ax.annotate(f"{rs[0]['guidance']:g}", (100 * rs[0]["accuracy"], rs[0]["ratio"]), fontsize=6)
            ax.annotate(f"{rs[-1]['guidance']:g}", (100 * rs[-1]["accuracy"], rs[-1]["ratio"]), fontsize=6)
    ratio_axis(ax); ax.axhline(1.5, color="C3", ls=":", lw=1); ax.axvline(100 * args.min_accuracy, color="C3", ls=":", lw=1)
    ax.plot([100 * best["accuracy"]], [best["ratio"]], "*", ms=14, color="gold", mec="k",
            label="picked" if met else "most accurate (none reaches the floor)")
    ax.set_xlabel("judge accuracy (%), mean over seeds"); ax.legend(fontsize=6, ncol=2)
    ax.set_title(f"accuracy against Frechet / floor over guidance (numbers: guidance; target: right of {args.min_accuracy:.0%}, "
                 "below 1.5)", fontsize=8)
    plt.tight_layout(); fig.savefig(result_dir(d, args.name) / f"{args.name}.png", dpi=100)
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}")
    return rows, best


if __name__ == "__main__": main()
