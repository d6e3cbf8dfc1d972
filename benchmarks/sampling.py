"""Benchmark 3: samplers and guidance on the default digits model: DDPM 1000 steps, DDIM 50 and 20,
DPM-Solver++ 20 and 10 steps and its SDE variant (SDE-DPM-Solver++, `class_ddpm_sample`'s default) 20 and 10
steps, all without guidance, and DPM-Solver++ 20 steps at guidance 1.5 (the training's grids), 2, 3 and 5. For each:
the digits judge's accuracy (overall and worst digit) and Frechet distance on 50 images per digit, and the
seconds per image. Goal: DPM-Solver++ 20 steps within 2 points of accuracy of DDPM 1000 steps.

The model is the run of benchmarks/time_to_quality.py (benchmarks/runs/digits-default); with none there,
the default digits training runs first.

    python benchmarks/sampling.py            # full run: benchmarks/results/sampling.{csv,md,png}
    python benchmarks/sampling.py --quick    # a check that it runs (a 10-step model, few images and steps)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RUNS, device, judge, load_1m, parser, setup, write_results
from class_ddpm.metrics import judge_pipeline
from class_ddpm.pipeline import ClassConditionalPipeline, sampling_scheduler
from class_ddpm.training import TrainConfig, train

SETTINGS = [  # (sampler, steps, guidance)
    ("ddpm", 1000, 1.0), ("ddim", 50, 1.0), ("ddim", 20, 1.0), ("dpmsolver", 20, 1.0), ("dpmsolver", 10, 1.0),
    ("dpmsolver-sde", 20, 1.0), ("dpmsolver-sde", 10, 1.0),
    ("dpmsolver", 20, 1.5), ("dpmsolver", 20, 2.0), ("dpmsolver", 20, 3.0), ("dpmsolver", 20, 5.0)]
NAMES = {"ddpm": "DDPM", "ddim": "DDIM", "dpmsolver": "DPM-Solver++", "dpmsolver-sde": "SDE-DPM-Solver++"}


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(RUNS / "digits-default"), help="a trained digits pipeline folder")
    p.add_argument("--n_per_class", type=int, default=50)
    p.add_argument("--batch_size", type=int, default=250, help="images per pipeline call")
    args = p.parse_args(argv)
    d = setup(args)
    model = Path(args.model) if not args.quick else d / "run"
    if not (model / "model_index.json").exists():
        print(f"No model in {model}: training the default digits model there first.", flush=True)
        cfg = TrainConfig(output_dir=str(model), overwrite_output_dir=True, seed=0)
        if args.quick: cfg.max_train_steps, cfg.num_images_per_class = 10, 1
        train(cfg)
    pipe = ClassConditionalPipeline.from_pretrained(str(model)).to(device())
    train_config = pipe.scheduler.config
    n_per_class = 2 if args.quick else args.n_per_class
    jd = judge()
    rows = []
    for sampler, steps, guidance in SETTINGS:
        if args.quick: steps = max(2, steps // 20)
        pipe.scheduler = sampling_scheduler(sampler, train_config)
        load = load_1m()
        r = judge_pipeline(pipe, jd, n_per_class=n_per_class, batch_size=args.batch_size, seed=0,
                           num_inference_steps=steps, guidance_scale=guidance)  # explicit: not the pipeline's saved default
        rows.append(dict(sampler=NAMES[sampler], steps=steps, guidance=guidance,
                         unet_evals_per_image=steps * (2 if guidance != 1 else 1), accuracy=r["accuracy"],
                         worst_digit_accuracy=min(r["per_class"].values()), frechet=r["frechet"],
                         seconds_per_image=r["seconds_per_image"], n_images=r["n_images"], device=device().type,
                         load_1m_before=load, load_1m_after=load_1m()))
        print(rows[-1], flush=True)
    ddpm = rows[0]
    def gap_line(name):
        "How far the sampler's most-step unguided setting is from DDPM's accuracy."
        rs = [r for r in rows if r["sampler"] == name and r["guidance"] == 1]
        if not rs: return ""
        r = max(rs, key=lambda r: r["steps"]); gap = 100 * (ddpm["accuracy"] - r["accuracy"])
        return (f"{name} {r['steps']} steps: {r['accuracy']:.1%} against DDPM {ddpm['steps']} steps: {ddpm['accuracy']:.1%}, "
                f"a gap of {gap:+.1f} points ({'meets' if gap <= 2 else 'misses'} the goal of at most 2) at "
                f"{ddpm['seconds_per_image'] / r['seconds_per_image']:.0f}x less time per image. ")
    notes = (f"Model: {model.name} (the default digits training). {n_per_class} images per digit, seed 0, batches of "
             f"{args.batch_size} images (guidance doubles the UNet batch). " + gap_line("DPM-Solver++") + gap_line("SDE-DPM-Solver++")
             + "`load_1m_before`: the 1-minute load average of the 2-core machine before each setting.")
    cols = ["sampler", "steps", "guidance", "unet_evals_per_image", "accuracy", "worst_digit_accuracy", "frechet",
            "seconds_per_image", "load_1m_before"]
    write_results(d, "sampling", rows, cols, "Benchmark 3: samplers and classifier-free guidance", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    labels = [f"{r['sampler']} {r['steps']}" + (f"\ng={r['guidance']:g}" if r["guidance"] != 1 else "") for r in rows]
    colors = ["C0" if r["guidance"] == 1 else "C2" for r in rows]
    fig, axs = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, key, ylabel in ((axs[0], "accuracy", "judge accuracy (%)"), (axs[1], "frechet", "Frechet distance"),
                            (axs[2], "seconds_per_image", "seconds per image (log)")):
        vals = [100 * r[key] if key == "accuracy" else r[key] for r in rows]
        ax.bar(range(len(rows)), vals, color=colors); ax.set_ylabel(ylabel)
        ax.set_xticks(range(len(rows)), labels, fontsize=6.5, rotation=45, ha="right")
    axs[0].set_ylim(max(0, min(100 * r["accuracy"] for r in rows) - 5), 100.5); axs[2].set_yscale("log")
    fig.suptitle("samplers (blue, no guidance) and classifier-free guidance g (green, DPM-Solver++)", fontsize=9)
    plt.tight_layout(); fig.savefig(d / "sampling.png", dpi=100)
    print(f"wrote {d / 'sampling.png'}")
    return rows


if __name__ == "__main__": main()
