"""What the README's second command gives: `class_ddpm_sample RUN --output_dir DIR --num_images_per_class 50` on a
trained digits run (its saved sampler and guidance), once per `--seed`, each folder of PNGs judged as a user would
judge it: the digits judge's accuracy (did it draw the digit asked for?) and fidelity at the training resolution (the
Frechet distance over its real-vs-real floor at the same n, with KID, precision and recall), from the saved images.
Different seeds are different draws of the same 500 images' noise, so the spread over seeds is how much one draw of
n = 500 can differ from another. Writes class_ddpm/results/readme_check/.

    python -m benchmarks.readme_check class_ddpm/models/digits     # the committed default model, seeds 0-4
    python -m benchmarks.readme_check --quick               # a check that it runs (an untrained model, 2 per digit)
"""
import shutil, subprocess, tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import FIDELITY_NOTE, judge, parser, setup, shown_path, write_results


def read_folder(folder):
    """The images `class_ddpm_sample` wrote, DIR/<digit>/<k>.png, as uint8 (n, 1, h, w), and the digit of each: read with
    `load_image_dataset`, the loader training uses for a folder of class folders (so the layout's round trip is tested too)."""
    import warnings
    import torch
    from class_ddpm.data import load_image_dataset
    with warnings.catch_warnings():  # the sampler's grid.png beside the class folders is not a sample: ignored, as it says
        warnings.simplefilter("ignore", UserWarning)
        ds = load_image_dataset(folder, resolution=16, channels=1, in_memory=True)
    return ds.images, torch.tensor([int(ds.class_names[i]) for i in ds.labels.tolist()])


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("run_dir", nargs="?", default=None, help="a class_ddpm_train run folder (the README's runs/digits)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--n_per_class", type=int, default=50)
    args = p.parse_args(argv)
    d = setup(args)
    from class_ddpm.metrics import FidelityJudge
    tmp = Path(tempfile.mkdtemp(prefix="class_ddpm_readme_check_"))
    run, n_per_class, seeds = args.run_dir, args.n_per_class, args.seeds
    if args.quick:
        from class_ddpm.corruption import make_scheduler
        from class_ddpm.pipeline import DEFAULT_GUIDANCE, ClassConditionalPipeline
        from class_ddpm.unet import conditional_unet
        run, n_per_class, seeds = tmp / "untrained", 2, [0]
        ClassConditionalPipeline(conditional_unet(10, 16, in_channels=1, preset="nano"), make_scheduler(prediction_type="v_prediction"),
                                 class_names=[str(i) for i in range(10)], guidance_scale=DEFAULT_GUIDANCE).save_pretrained(run)
    if run is None: raise SystemExit("readme_check: error: give a run folder, e.g. `python -m benchmarks.readme_check class_ddpm/models/digits`")
    jd, fidelity, rows = judge(), FidelityJudge.digits(16), []
    for seed in seeds:
        out = tmp / f"seed{seed}"
        cmd = ["class_ddpm_sample", str(run), "--output_dir", str(out), "--num_images_per_class", str(n_per_class), "--seed", str(seed)]
        if args.quick: cmd += ["--num_inference_steps", "2"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x, y = read_folder(out)
        acc, f = jd.accuracy(x, y), fidelity(x) if len(x) >= 20 else None
        rows.append(dict(seed=seed, n=len(x), accuracy=acc.overall, worst_digit_accuracy=min(acc.per_class.values()),
                         ratio=f.ratio if f else float("nan"), frechet=f.frechet if f else float("nan"),
                         floor=f.floor if f else float("nan"), kid=f.kid if f else float("nan"),
                         precision=f.precision if f else float("nan"), recall=f.recall if f else float("nan")))
        print(rows[-1], flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    mean = lambda k: float(np.mean([r[k] for r in rows]))
    rng = lambda k, fmt: f"{fmt(min(r[k] for r in rows))} to {fmt(max(r[k] for r in rows))}"
    pct, x2 = (lambda v: f"{v:.1%}"), (lambda v: f"{v:.2f}x")
    command = f"class_ddpm_sample {shown_path(run)} --output_dir DIR --num_images_per_class {n_per_class} --seed S"
    notes = (f"Command: `{command}` for S in {', '.join(map(str, seeds))} (the saved sampler, steps and guidance), each folder "
             f"judged from its PNGs. Accuracy {rng('accuracy', pct)} (mean {mean('accuracy'):.1%}); ratio {rng('ratio', x2)} "
             f"(mean {mean('ratio'):.2f}x) at n = {rows[0]['n']}. The spread is that of one draw of n images against "
             f"another.\n\n" + FIDELITY_NOTE)
    cols = ["seed", "n", "accuracy", "worst_digit_accuracy", "ratio", "floor", "kid", "precision", "recall"]
    write_results(d, "readme_check", rows, cols, "The README's sample command on the default model, judged", notes)


if __name__ == "__main__": main()
