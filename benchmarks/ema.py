"""What the exponential moving average (EMA) of the weights buys: one trained run's raw weights against its EMA weights,
from the same checkpoint, each sampled with the pipeline's saved sampler and guidance, 50 images per digit, judged by
lesson 07's judges.

    python -m benchmarks.ema runs/digits     # a run folder of class_ddpm_train (its last checkpoint is used)
    python -m benchmarks.ema --quick         # a check that it runs (an untrained model, a temporary folder)
"""
from benchmarks.common import (FIDELITY_NOTE, checkpoint_pipeline, checkpoint_steps, judge, load_1m, parser, quality, setup,
                               shown_path, write_results)
from class_ddpm.metrics import judge_pipeline
from class_ddpm.pipeline import ClassConditionalPipeline, sampler_name
from class_ddpm.corruption import make_scheduler
from class_ddpm.unet import conditional_unet


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("run_dir", nargs="?", default=None, help="the run folder (class_ddpm_train's --output_dir)")
    p.add_argument("--n_per_class", type=int, default=50)
    p.add_argument("--steps", type=int, default=20, help="sampling steps")
    p.add_argument("--name", default="ema", help="results name")
    args = p.parse_args(argv)
    d = setup(args)
    if args.quick:
        unet = conditional_unet(10, 16, in_channels=1)
        pipes = {"raw": ClassConditionalPipeline(unet, make_scheduler()), "ema": ClassConditionalPipeline(unet, make_scheduler())}
        n, step, where = 2, 0, "an untrained model (--quick)"
    elif args.run_dir is None: p.error("give the run folder, e.g. runs/digits")
    else:
        steps = checkpoint_steps(args.run_dir)
        if not steps: p.error(f"{args.run_dir} has no complete checkpoint-N folder: train with checkpoints (the default saves them)")
        step = max(steps)
        pipes = {w: checkpoint_pipeline(args.run_dir, steps[step], ema=(w == "ema")) for w in ("raw", "ema")}
        n, where = args.n_per_class, f"{shown_path(args.run_dir)}, checkpoint-{step}"
    rows = []
    for weights, pipe in pipes.items():
        g = pipe.default_guidance_scale  # what the run saved (the default run: 1.25)
        r = judge_pipeline(pipe, judge(), n_per_class=n, seed=0, num_inference_steps=args.steps, guidance_scale=g)
        rows.append(dict(weights=weights, step=step, sampler=sampler_name(pipe.scheduler), steps=args.steps, guidance=g,
                         **quality(r), load_1m=load_1m()))
        print(rows[-1], flush=True)
    raw, ema = rows
    notes = (f"Run: {where}; the raw weights (`model.safetensors`) and the EMA weights (`unet_ema/`) of the same checkpoint, "
             f"{n} images per digit, seed 0, the pipeline's saved sampler at guidance {raw['guidance']:g}, {args.steps} steps. "
             f"Raw: {raw['accuracy']:.1%}, ratio {raw['ratio']:.2f}; EMA: {ema['accuracy']:.1%}, ratio {ema['ratio']:.2f} "
             f"(floor {ema['floor']:.3g} at n={ema['n']}). " + FIDELITY_NOTE)
    cols = ["weights", "step", "sampler", "guidance", "accuracy", "worst_digit_accuracy", "n", "frechet", "floor", "ratio", "kid", "precision", "recall"]
    write_results(d, args.name, rows, cols, "Raw weights against their exponential moving average (EMA), one run", notes)
    return rows


if __name__ == "__main__": main()
