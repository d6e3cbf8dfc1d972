"""Benchmark 3: samplers and guidance, so that "bad training" and "bad sampler" can be told apart. Two models:
the default digits model (v-prediction; the committed table is of the tiny UNet with no
weighting, 1,500 steps) and an epsilon-prediction model (epsilon + Min-SNR-5, trained
like benchmark 2 for as many steps as the default). Each is sampled with DDPM at many steps (`--ddpm_steps`, 1000),
DPM-Solver++ 20 (ODE) and SDE-DPM-Solver++ 20 (`class_ddpm_sample`'s default), each with and without clipping the
predicted clean image x0 to [-1, 1] (the pipeline's `clip_denoised`, and the DDPM/DDIM scheduler's own `clip_sample`);
the default model also with DDIM 50/20 and the fast samplers at 10 steps, and a guidance sweep (1, 1.25, 1.5, 2, 3)
with DPM-Solver++ 20 and SDE-DPM-Solver++ 20: the accuracy-against-fidelity frontier. For each setting: the digits
judge's accuracy (overall and worst digit), fidelity at the training resolution (the Frechet distance as a ratio to
its real-vs-real floor at the same n, KID, precision, recall) on 50 images per digit, and the seconds per image.
Goal: DPM-Solver++ 20 steps within 2 points of accuracy of DDPM 1000 steps.

The default model is the run of benchmarks/time_to_quality.py (benchmarks/runs/digits-default); the epsilon model
goes to benchmarks/runs/digits-epsilon-min_snr; either is trained first when missing.

    python -m benchmarks.sampling            # full run: class_ddpm/results/sampling/
    python -m benchmarks.sampling --quick    # a check that it runs (10-step models, few images and steps)
"""
import hashlib, json
from pathlib import Path

from benchmarks.common import result_dir, FIDELITY_NOTE, RUNS, device, fidelity_text, judge, load_1m, parser, quality, ratio_axis, setup, write_results
from class_ddpm.metrics import judge_pipeline
from class_ddpm.pipeline import ClassConditionalPipeline, make_sampler
from class_ddpm.training import TrainConfig, train

NAMES = {"ddpm": "DDPM", "ddim": "DDIM", "dpmsolver": "DPM-Solver++", "dpmsolver-sde": "SDE-DPM-Solver++"}
GUIDANCES = (1.25, 1.5, 2.0, 3.0)  # beside 1 (no guidance)
MODELS = {  # name -> (run folder, TrainConfig overrides of the digits defaults, what it is)
    "default": ("digits-default", {}, "the default digits model (the run of time_to_quality.py)"),
    "epsilon": ("digits-epsilon-min_snr", dict(prediction_type="epsilon", snr_weighting="min_snr", snr_gamma=5.0),
                "epsilon + Min-SNR-5"),
}


def weights_id(folder) -> str:
    "The first 12 hex digits of the sha256 of a run's UNet weights: which model a cached row measured."
    f = next(iter(sorted(Path(folder).glob("unet/*.safetensors"))), None)
    return hashlib.sha256(f.read_bytes()).hexdigest()[:12] if f else "none"


def settings(ddpm_steps, core=False):
    "(model, sampler, steps, guidance, clip x0) of every row; `core`: the model rows only, fast samplers first."
    if core:
        fast = [(m, s, 20, 1.0, c) for m in ("epsilon", "default") for s in ("dpmsolver", "dpmsolver-sde") for c in (True, False)]
        return fast + [(m, "ddpm", ddpm_steps, 1.0, c) for c in (True, False) for m in ("epsilon", "default")]
    rows = []
    for model in MODELS:
        for sampler, steps in (("ddpm", ddpm_steps), ("dpmsolver", 20), ("dpmsolver-sde", 20)):
            rows += [(model, sampler, steps, 1.0, True), (model, sampler, steps, 1.0, False)]
    rows += [("default", "ddim", 50, 1.0, True), ("default", "ddim", 20, 1.0, True),
             ("default", "dpmsolver", 10, 1.0, True), ("default", "dpmsolver-sde", 10, 1.0, True)]
    rows += [("default", s, 20, g, True) for s in ("dpmsolver", "dpmsolver-sde") for g in GUIDANCES]
    return rows


def load_model(name, folder, quick):
    "The model's saved pipeline, trained first (for as many steps as the default: the digits default) when missing."
    if not (folder / "model_index.json").exists():
        print(f"No model in {folder}: training the {name} digits model there first.", flush=True)
        extra = MODELS[name][1]
        cfg = TrainConfig(output_dir=str(folder), overwrite_output_dir=True, seed=0, **extra)
        if extra: cfg.save_images_epochs, cfg.checkpointing_steps = 10 ** 6, 10 ** 9  # like benchmark 2: the pipeline at the end only
        if quick: cfg.max_train_steps, cfg.num_images_per_class = 10, 1
        train(cfg)
    pipe = ClassConditionalPipeline.from_pretrained(str(folder)).to(device())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(RUNS / MODELS["default"][0]), help="the default digits pipeline folder")
    p.add_argument("--epsilon_model", default=str(RUNS / MODELS["epsilon"][0]), help="the epsilon-prediction pipeline folder")
    p.add_argument("--ddpm_steps", type=int, default=1000, help="DDPM's steps (the 'many steps' reference; 250 to save time)")
    p.add_argument("--n_per_class", type=int, default=50)
    p.add_argument("--batch_size", type=int, default=250, help="images per pipeline call")
    p.add_argument("--core", action="store_true", help="only the two models' rows (DDPM, DPM-Solver++ 20, SDE 20, clipped or "
                   "not), fast samplers first; the guidance frontier is guidance_frontier.py's")
    p.add_argument("--cache", default=str(RUNS / "sampling_rows.json"), help="rows measured so far (a rerun measures only the rest)")
    p.add_argument("--cached_only", action="store_true", help="measure nothing: report the rows in --cache (a run stopped early)")
    args = p.parse_args(argv)
    d = setup(args)
    folders = {"default": Path(args.model), "epsilon": Path(args.epsilon_model)}
    if args.quick: folders = {k: d / f"run-{k}" for k in folders}
    pipes = {k: load_model(k, f, args.quick) for k, f in folders.items()}
    train_configs = {k: pipe.scheduler.config for k, pipe in pipes.items()}
    weights = {k: weights_id(f) for k, f in folders.items()}  # a cached row counts only for the weights it measured
    n_per_class = 2 if args.quick else args.n_per_class
    jd = judge()
    rows = []
    cache = Path(args.cache) if not args.quick else d / "sampling_rows.json"
    done = json.loads(cache.read_text()) if cache.exists() else []
    key = lambda r: [r["model"], r.get("weights"), r["sampler"], r["steps"], r["guidance"], r["clip_x0"], r["n"]]
    for model, sampler, steps, guidance, clip in settings(args.ddpm_steps, args.core):
        if args.quick: steps = max(2, steps // 20)
        old = next((r for r in done if key(r) == [model, weights[model], NAMES[sampler], steps, guidance, clip, 10 * n_per_class]), None)
        if old: rows.append(old); continue
        if args.cached_only: continue
        pipe = pipes[model]
        # without clipping: neither the pipeline's x0 clip nor the DDPM/DDIM scheduler's own clip_sample
        pipe.scheduler = make_sampler(sampler, train_configs[model], **({} if clip or sampler not in ("ddpm", "ddim")
                                                                              else dict(clip_sample=False)))
        load = load_1m()
        r = judge_pipeline(pipe, jd, n_per_class=n_per_class, batch_size=args.batch_size, seed=0, num_inference_steps=steps,
                           guidance_scale=guidance, clip_denoised=clip)  # explicit: not the pipeline's saved default
        rows.append(dict(model=model, weights=weights[model], prediction_type=pipe.scheduler.config.prediction_type, sampler=NAMES[sampler], steps=steps,
                         guidance=guidance, clip_x0=clip, unet_evals_per_image=steps * (2 if guidance != 1 else 1), **quality(r),
                         n_images=r["n_images"], device=device().type, load_1m_before=load, load_1m_after=load_1m()))
        print({k: rows[-1][k] for k in ("model", "sampler", "steps", "guidance", "clip_x0", "accuracy", "ratio", "kid",
                                        "precision", "recall", "seconds_per_image")}, flush=True)
        done.append(rows[-1]); cache.parent.mkdir(parents=True, exist_ok=True); cache.write_text(json.dumps(done))

    def find(model, sampler, steps, guidance=1.0, clip=True):
        return next((r for r in rows if (r["model"], r["sampler"], r["steps"], r["guidance"], r["clip_x0"]) ==
                     (model, NAMES[sampler], steps, guidance, clip)), None)
    q = (lambda s: max(2, s // 20)) if args.quick else (lambda s: s)
    ddpm_n = q(args.ddpm_steps)
    def gap_line(sampler):
        "How far the sampler's 20-step unguided setting is from DDPM's accuracy (default model, clipped)."
        ddpm, r = find("default", "ddpm", ddpm_n), find("default", sampler, q(20))
        gap = 100 * (ddpm["accuracy"] - r["accuracy"])
        return (f"{r['sampler']} {r['steps']} steps: {r['accuracy']:.1%} against DDPM {ddpm['steps']} steps: {ddpm['accuracy']:.1%}, "
                f"a gap of {gap:+.1f} points ({'meets' if gap <= 2 else 'misses'} the goal of at most 2), ratio {r['ratio']:.2f}x "
                f"against {ddpm['ratio']:.2f}x, at {ddpm['seconds_per_image'] / r['seconds_per_image']:.0f}x less time per image. ")
    def model_lines(model):
        out = []
        for sampler, steps in (("ddpm", ddpm_n), ("dpmsolver", q(20)), ("dpmsolver-sde", q(20))):
            a, b = find(model, sampler, steps, clip=True), find(model, sampler, steps, clip=False)
            f = lambda r: f"{r['accuracy']:.1%} / {r['ratio']:.2f}x" if r else "not measured"
            out.append(f"{NAMES[sampler]} {steps}: {f(a)} clipped, {f(b)} unclipped")
        return f"- {model} ({MODELS[model][2]}), accuracy / ratio: " + "; ".join(out) + "."
    frontier = [r for r in (find("default", s, q(20), g) for s in ("dpmsolver", "dpmsolver-sde") for g in (1.0,) + GUIDANCES) if r]
    r0 = rows[0]
    notes = (f"Models: {folders['default'].name} (the default digits training) and {folders['epsilon'].name} (epsilon + Min-SNR-5, "
             f"the same steps). {n_per_class} images per digit (n = {r0['n']}), seed 0, batches of {args.batch_size} images "
             f"(guidance doubles the UNet batch). The real-vs-real floor at n = {r0['n']}: Frechet {r0['floor']:.3g} (sd "
             f"{r0['floor_sd']:.2g}), KID {r0['kid_floor']:.1g}, precision {r0['precision_floor']:.2f}, recall {r0['recall_floor']:.2f}."
             f"\n\nBad training or bad sampler? DDPM at {ddpm_n} steps is the reference sampler: a model that is poor there is "
             f"poorly trained; one that is good there and poor with a fast sampler is poorly sampled.\n\n"
             + model_lines("default") + "\n" + model_lines("epsilon") + "\n\n"
             + (gap_line("dpmsolver") + gap_line("dpmsolver-sde") if find("default", "ddpm", ddpm_n) else "")
             + "\n\nGuidance (default model, 20 steps, clipped): "
             + ("; ".join(f"{r['sampler']} g={r['guidance']:g}: {r['accuracy']:.1%}, {r['ratio']:.2f}x" for r in frontier)
                if len(frontier) > 2 else "see guidance_frontier.md (not rerun here, `--core`)")
             + ". Default model, DPM-Solver++ 20, no guidance: " + fidelity_text(find("default", "dpmsolver", q(20))) + ".\n\n"
             + "`load_1m_before`: the 1-minute load average of the 2-core machine before each setting.\n\n" + FIDELITY_NOTE)
    cols = ["model", "sampler", "steps", "guidance", "clip_x0", "accuracy", "worst_digit_accuracy", "ratio", "kid", "kid_se",
            "precision", "recall", "judge_frechet", "seconds_per_image", "load_1m_before"]
    write_results(d, "sampling", rows, cols, "Benchmark 3: samplers, x0 clipping and classifier-free guidance", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    plain = [r for r in rows if r["guidance"] == 1]
    labels = [f"{r['model'][:3]} {r['sampler']} {r['steps']}" + ("" if r["clip_x0"] else " no clip") for r in plain]
    colors = ["C0" if r["model"] == "default" else "C1" for r in plain]
    hatches = ["" if r["clip_x0"] else "//" for r in plain]
    fig, axs = plt.subplots(1, 4, figsize=(17, 4), gridspec_kw=dict(width_ratios=[3, 3, 3, 2]))
    for ax, key, ylabel in ((axs[0], "accuracy", "judge accuracy (%)"), (axs[1], "ratio", None),
                            (axs[2], "seconds_per_image", "seconds per image (log)")):
        vals = [100 * r[key] if key == "accuracy" else r[key] for r in plain]
        for i, (v, c, h) in enumerate(zip(vals, colors, hatches)): ax.bar(i, v, color=c, hatch=h, edgecolor="k", lw=0.3)
        if key == "ratio": ratio_axis(ax, f"Frechet / floor at n={r0['n']} (log)")
        else: ax.set_ylabel(ylabel)
        ax.set_xticks(range(len(plain)), labels, fontsize=6, rotation=60, ha="right")
    axs[0].set_ylim(max(0, min(100 * r["accuracy"] for r in plain) - 5), 100.5); axs[2].set_yscale("log")
    for s, st in (("dpmsolver", "-"), ("dpmsolver-sde", "--")):
        fr = [r for r in frontier if r["sampler"] == NAMES[s]]
        axs[3].plot([100 * r["accuracy"] for r in fr], [r["ratio"] for r in fr], st, marker="o", label=NAMES[s] + " 20")
        for r in fr: axs[3].annotate(f"{r['guidance']:g}", (100 * r["accuracy"], r["ratio"]), fontsize=7)
    ratio_axis(axs[3]); axs[3].set_xlabel("judge accuracy (%)"); axs[3].legend(fontsize=7)
    axs[3].set_title("guidance frontier (numbers: guidance)", fontsize=8)
    fig.suptitle("no guidance: default model (blue), epsilon + Min-SNR-5 (orange), hatched = no x0 clipping; "
                 "right: the default model over guidance; dotted: the real-vs-real floor", fontsize=9)
    plt.tight_layout(); fig.savefig(result_dir(d, "sampling") / "sampling.png", dpi=100)
    print(f"wrote {result_dir(d, 'sampling') / 'sampling.png'}")
    return rows


if __name__ == "__main__": main()
