"""The main job: `class_ddpm_train --output_dir runs/digits` (no dataset flag: the built-in digits, nano preset,
16 px, the CPU-sized defaults), timed from the command line to the saved pipeline, then judged.

Judging: 50 images of each digit drawn with the saved pipeline as it loads (its sampler, and the run's
`--num_inference_steps` and `--guidance_scale`; also at guidance 2), then
- an SVC (scikit-learn, RBF kernel) trained on the real digits at the same resolution: the share of samples
  it puts in the class asked for (the issue's measure; goal >= 95%);
- `class_ddpm.metrics.DigitsJudge` (a small CNN on the 8x8 digits): its accuracy (and worst digit);
- fidelity at the training resolution (`class_ddpm.metrics.FidelityJudge`): the Frechet distance with its
  real-vs-real floor at the same n and their ratio (the headline), KID with its standard error, precision and
  recall beside their floors; the CNN's 8x8 Frechet distance (`judge_frechet`) beside only;
- speckle: the mean absolute difference between each image and its 3x3 median filter, over the same for
  real digits (1.0 = as smooth as real digits; residual noise shows as > 1).
With `--judge_checkpoints`, every checkpoint's EMA weights are judged too (accuracy against steps and seconds),
which is how the defaults were chosen; extra flags after `--` go to `class_ddpm_train` (e.g. `-- --prediction_type epsilon`).

    python -m benchmarks.train_digits                          # class_ddpm/results/train_digits/: the table, and the
                                                               # run's train_digits_metrics.csv and train_digits_progress.gif
    python -m benchmarks.train_digits --name eps -- --prediction_type epsilon --checkpointing_steps 250
    python -m benchmarks.train_digits --quick                  # a check that it runs (a few steps)
"""
import json, os, shutil, subprocess, sys, time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import (result_dir, shown_path, FIDELITY_NOTE, RUNS, checkpoint_pipeline, checkpoint_steps, fidelity_text, judge, load_1m, machine, parser,
                    quality, setup, write_results)


def speckle(x):
    "Mean |x - median3x3(x)| of images (n, 1, h, w) in [0, 1]."
    p = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    patches = p.unfold(2, 3, 1).unfold(3, 3, 1).reshape(*x.shape, 9)
    return float((x - patches.median(-1).values).abs().mean())


_SVC = {}
def svc(resolution):
    "An RBF SVC trained on all real digits at `resolution` (pixels in [0, 1]), and the real images' speckle."
    if resolution not in _SVC:
        from sklearn.svm import SVC
        from class_ddpm.data import load_image_dataset
        ds = load_image_dataset("digits", resolution=resolution)
        x = torch.stack([ds[i][0] for i in range(len(ds))]).add(1).div(2)
        clf = SVC(gamma="scale", C=10).fit(x.flatten(1).numpy(), ds.labels.numpy())
        _SVC[resolution] = (clf, speckle(x))
    return _SVC[resolution]


def judge_run(pipe, resolution, steps, guidance, n_per_class=50):
    from class_ddpm.metrics import judge_pipeline
    r = judge_pipeline(pipe, judge(), n_per_class=n_per_class, num_inference_steps=steps, guidance_scale=guidance)
    clf, real_speckle = svc(resolution)
    x = r["images"][:, :1]
    svc_acc = float((clf.predict(x.flatten(1).numpy()) == r["labels"].numpy()).mean())
    per = [float((clf.predict(x[r["labels"] == c].flatten(1).numpy()) == c).mean()) for c in range(10)]
    q = quality(r)
    return dict(svc_accuracy=svc_acc, svc_worst_class=min(per), judge_accuracy=q.pop("accuracy"),
                judge_worst_digit=q.pop("worst_digit_accuracy"), **q, speckle_vs_real=speckle(x) / real_speckle), r


RUN_FILES = {"metrics.csv": "metrics.csv", "samples/progress.gif": "progress.gif"}  # run file -> NAME_<suffix> in the results


def ship_run_files(out:Path, d:Path, name:str) -> list:
    "Copy the run's loss log and progress GIF beside its table (`NAME_metrics.csv`, `NAME_progress.gif`), for lesson 04."
    shipped = []
    for src, suffix in RUN_FILES.items():
        if (out / src).exists(): shipped.append(Path(shutil.copyfile(out / src, result_dir(d, name) / f"{name}_{suffix}")))
    print("shipped", *shipped, flush=True)
    return shipped


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--name", default="train_digits", help="results name (and run folder under benchmarks/runs)")
    p.add_argument("--output_dir", default=None, help="the run folder; default benchmarks/runs/NAME")
    p.add_argument("--judge_checkpoints", action="store_true", help="also judge every checkpoint's EMA weights")
    p.add_argument("--no_train", action="store_true", help="judge an existing run folder")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]
    d = setup(args)
    out = Path(args.output_dir or RUNS / args.name) if not args.quick else d / "run"
    if args.quick: extra += ["--max_train_steps", "4", "--checkpointing_steps", "2", "--num_images_per_class", "1"]
    load_before = load_1m()
    if not args.no_train:
        cmd = [str(Path(sys.executable).parent / "class_ddpm_train"), "--output_dir", str(out), "--overwrite_output_dir", *extra]
        print(" ".join(cmd), flush=True)
        t0 = time.time()
        subprocess.run(cmd, check=True)
        wall = time.time() - t0
    else: wall = float("nan")
    load_after = load_1m()
    ship_run_files(out, d, args.name)
    st = json.loads((out / "training_state.json").read_text())
    from class_ddpm.config import canonical_settings
    c = canonical_settings(st["config"])  # a run saved under the settings' other names reads the same
    from class_ddpm.training import read_metrics
    m = read_metrics(out)
    train_seconds = float(m["time"][-1])
    from class_ddpm.pipeline import ClassConditionalPipeline
    pipe = ClassConditionalPipeline.from_pretrained(str(out)); pipe.set_progress_bar_config(disable=True)
    n = 2 if args.quick else 50
    rows = []
    for g in dict.fromkeys([c["guidance_scale"], 1.0, 2.0]):
        res, r = judge_run(pipe, c["resolution"], c["num_inference_steps"], g, n)
        rows.append(dict(what="final (saved pipeline)", step=st["global_step"], guidance=g, sampler=c["sampler"],
                         sampler_steps=c["num_inference_steps"], **res))
        if g == c["guidance_scale"]:
            from class_ddpm.pipeline import labelled_grid
            from PIL import Image
            imgs = [Image.fromarray((im[0].numpy() * 255).round().astype(np.uint8)) for im in r["images"]]
            pick = [imgs[k * n + j] for k in range(10) for j in range(min(n, 10))]
            labelled_grid(pick, [str(k) for k in range(10)], min(n, 10)).save(result_dir(d, args.name) / f"{args.name}.png")
    if args.judge_checkpoints:
        secs = {int(s): float(t) for s, t in zip(m["step"], m["time"])}
        for step, ck in sorted(checkpoint_steps(out).items()):
            res, _ = judge_run(checkpoint_pipeline(out, ck), c["resolution"], c["num_inference_steps"], c["guidance_scale"], n)
            rows.append(dict(what="checkpoint (EMA)", step=step, train_seconds=secs.get(step), guidance=c["guidance_scale"],
                             sampler=c["sampler"], sampler_steps=c["num_inference_steps"], **res))
            print(rows[-1], flush=True)
    steps_per_s = st["global_step"] / train_seconds
    notes = (f"Command: `class_ddpm_train --output_dir {shown_path(out)} {' '.join(extra)}` -> {st['global_step']} steps "
             f"(batch {c['train_batch_size']}, {c['prediction_type']}, {c['snr_weighting']}, lr {c['learning_rate']}, "
             f"preset {c['preset']}, {c['resolution']} px). Wall time of the whole command: {wall:.0f} s; of the training loop "
             f"(incl. grids and checkpoints): {train_seconds:.0f} s; {steps_per_s:.2f} steps/s = "
             f"{steps_per_s * c['train_batch_size']:.0f} images/s. Load average (1 min) before: {load_before}, after: {load_after}. "
             f"{n} samples per class; SVC = scikit-learn SVC(C=10) on the real digits' pixels at {c['resolution']} px.\n\n"
             + "".join(f"Saved pipeline at guidance {r['guidance']:g}: {fidelity_text(r)}.\n" for r in rows if r["what"].startswith("final"))
             + "\n" + FIDELITY_NOTE)
    write_results(d, args.name, [dict(r, wall_seconds=wall if r["what"].startswith("final") else "") for r in rows],
                  ["what", "step", "guidance", "svc_accuracy", "svc_worst_class", "judge_accuracy", "judge_worst_digit", "n", "ratio",
                   "kid", "kid_se", "precision", "recall", "judge_frechet", "speckle_vs_real", "seconds_per_image", "train_seconds",
                   "wall_seconds"],
                  f"Default digits training ({args.name})", notes)


if __name__ == "__main__":
    main()
