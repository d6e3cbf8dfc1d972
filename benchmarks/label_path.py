"""Lesson 01's figure: the original script's label path (`class_embed_type="timestep"`: the label through the timestep
sinusoid) against the learned class table (`class_embed_type=None`, this package's default), trained on the digits with
the same seed, steps and settings, both without label dropout and sampled without guidance (SDE-DPM-Solver++, 20 steps),
50 images per digit judged by lesson 07's judges. Writes class_ddpm/results/label_path/ and
nbs/images/01_label_paths.png (the sample grids side by side).

    OMP_NUM_THREADS=1 python -m benchmarks.label_path --threads 1      # two 400-step runs side by side (22 minutes on a loaded 2-core machine)
    python -m benchmarks.label_path --quick                             # a check that it runs (5 steps, a temporary folder)
"""
import csv, multiprocessing, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.common import result_dir, FIDELITY_NOTE, RUNS, judge, load_1m, parser, quality, setup, write_results
import torch
from class_ddpm.metrics import judge_pipeline
from class_ddpm.pipeline import ClassConditionalPipeline
from class_ddpm.training import TrainConfig, train
from class_ddpm.unet import conditional_unet

IMAGE = Path(__file__).resolve().parents[1] / "nbs" / "images" / "01_label_paths.png"
PATHS = {"timestep": '"timestep" (the original script)', "table": "learned table (class_ddpm)"}


def label_sensitivity(unet) -> float:
    "How much the label moves the UNet's output: mean |out(y) - out(y')| over labels, relative to mean |out|, same x_t and t."
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(8, 1, 16, 16, generator=g), torch.randint(0, 1000, (8,), generator=g)
    with torch.no_grad():
        outs = torch.stack([unet(x, t, class_labels=torch.full((8,), y)).sample for y in range(10)])
    return ((outs - outs.mean(0)).abs().mean() / outs.abs().mean()).item()


def train_one(path, runs, steps) -> float:
    "Train one label path on the digits into runs/path; return the seconds it took."
    torch.set_num_threads(1)
    cfg_dir = None
    if path == "timestep":  # the original script's UNet, at the tiny preset: no table, no null class
        cfg_dir = runs / "timestep_config"
        conditional_unet(10, 16, in_channels=1, null_class=False, class_embed_type="timestep").save_config(cfg_dir)
    start = time.time()
    train(TrainConfig(output_dir=str(runs / path), overwrite_output_dir=True, max_train_steps=steps, seed=0,
                      preset="tiny", snr_weighting="none", ema_power=0.75,  # the defaults when the figure was made, kept
                      class_dropout_prob=0.0, guidance_scale=1.0, model_config_name_or_path=None if cfg_dir is None else str(cfg_dir),
                      save_images_epochs=10_000, save_model_epochs=10_000, checkpointing_steps=10_000, use_ema=True))
    return time.time() - start


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--n_per_class", type=int, default=50)
    p.add_argument("--reuse", action="store_true", help="judge and plot the runs already trained (their train_seconds from the last CSV)")
    args = p.parse_args(argv)
    d = setup(args)
    steps, n = (5, 2) if args.quick else (args.steps, args.n_per_class)
    runs = Path(tempfile.mkdtemp()) if args.quick else RUNS / "label_path"
    # the two trainings run side by side, one process each (one torch thread each): the same CPU time, half the wait
    if args.reuse:
        with open(result_dir(d, "label_path") / "label_path.csv") as f: seconds = {r["label_path"]: float(r["train_seconds"]) for r in csv.DictReader(f)}
    else:
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds = dict(zip(PATHS, pool.map(train_one, PATHS, [runs] * 2, [steps] * 2)))
    rows, grids = [], {}
    for path in PATHS:
        pipe = ClassConditionalPipeline.from_pretrained(runs / path)
        r = judge_pipeline(pipe, judge(), n_per_class=n, seed=0, num_inference_steps=20, guidance_scale=1.0)
        rows.append(dict(label_path=path, class_embed_type=pipe.unet.config.class_embed_type or "None", steps=steps, **quality(r),
                         label_sensitivity=label_sensitivity(pipe.unet), train_seconds=round(seconds[path]), load_1m=load_1m()))
        print(rows[-1], flush=True)
        grids[path] = (r["images"], r["labels"])
    notes = (f"Both runs: the digits at 16 px, tiny preset, v_prediction, no loss weighting, batch 64, {steps} steps, seed 0, EMA, "
             "no label dropout (the timestep path has no null class), sampled with SDE-DPM-Solver++ 20 steps without guidance, "
             f"{n} images per digit, seed 0. label_sensitivity: how much changing the label moves the UNet's output "
             "(mean absolute difference from the mean over the ten labels, relative to the mean absolute output; same x_t, t). "
             + FIDELITY_NOTE)
    cols = ["label_path", "class_embed_type", "steps", "accuracy", "worst_digit_accuracy", "n", "ratio", "floor", "label_sensitivity", "train_seconds"]
    write_results(d, "label_path", rows, cols, 'The original "timestep" label path against the learned class table, on the digits', notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    per_row = min(8, n)
    fig, axs = plt.subplots(1, 2, figsize=(8, 4.6), dpi=100)
    for ax, row in zip(axs, rows):
        x, y = grids[row["label_path"]]
        pick = torch.cat([torch.nonzero(y == k)[:per_row, 0] for k in range(10)])
        tiles = x[pick, 0].reshape(10, per_row, 16, 16).permute(0, 2, 1, 3).reshape(160, per_row * 16)
        ax.imshow(tiles, cmap="gray", vmin=0, vmax=1)
        ax.set(title=f"{PATHS[row['label_path']]}\nasked digit drawn {row['accuracy']:.1%}; Frechet {row['ratio']:.2f}x floor",
               yticks=[8 + 16 * k for k in range(10)], yticklabels=range(10), xticks=[])
        ax.set_ylabel("digit asked"); ax.title.set_fontsize(9)
    fig.suptitle(f"Same data, seed and {steps} training steps; only the label path differs (judged on n={rows[0]['n']} "
                 f"samples each, floor {rows[0]['floor']:.2f})", fontsize=9)
    plt.tight_layout()
    img = result_dir(d, "label_path") / "01_label_paths.png" if args.quick else IMAGE
    fig.savefig(img); print(f"wrote {img}")
    return rows


if __name__ == "__main__": main()
