"""Training throughput: our loop (`class_ddpm.training.train`) against the original script's loop, in one run.

The original loop is `benchmarks/original_loop.py` (per-item PIL transforms in a DataLoader over a `datasets` table of
PNGs, the global RNG, the loss read every step), on the digits at the tiny preset, the same preset, batch and
resolution as ours; the two are timed in alternation (original, ours, original, ours, ...) so that a change in the
machine's load hits both alike.

Images per second are measured over steps `--warmup`..`--steps` (the first steps pay for allocation and imports).
The 1-minute load average is recorded before and after: on a busy machine the numbers mean little; rerun when
`uptime` shows a load near 0.

    python -m benchmarks.train_throughput                    # class_ddpm/results/train_throughput/
    python -m benchmarks.train_throughput --threads 1        # one torch thread (faster on an oversubscribed CPU)
    python -m benchmarks.train_throughput --quick            # a check that it runs
"""
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import load_1m, parser, setup, write_results
from benchmarks.original_loop import make_table, original_loop


def our_loop(steps, batch_size, resolution, seed=0):
    "Our `train` for `steps` steps with no grids or checkpoints on the way; seconds per step from its metrics log."
    from class_ddpm.training import TrainConfig, read_metrics, train
    out = Path(tempfile.mkdtemp(prefix="class_ddpm_tp_")) / "run"
    train(TrainConfig(output_dir=str(out), preset="tiny", resolution=resolution, train_batch_size=batch_size, max_train_steps=steps,
                      checkpointing_steps=10 ** 9, save_images_epochs=10 ** 6, save_model_epochs=10 ** 6,
                      num_images_per_class=1, num_inference_steps=1, use_ema=True, seed=seed,
                      logging_steps=1))  # a row per step: its times are what we measure
    t = read_metrics(out)["time"]
    return list(np.diff(np.concatenate([[0.0], t])))


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60, help="steps per measurement")
    p.add_argument("--warmup", type=int, default=10, help="steps left out of each measurement")
    p.add_argument("--repeats", type=int, default=2, help="alternations of the two loops")
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--resolution", type=int, default=16)
    args = p.parse_args()
    if args.quick: args.steps, args.warmup, args.repeats = 6, 2, 1
    d = setup(args)
    table = make_table("tiny", Path(tempfile.mkdtemp(prefix="class_ddpm_tp_")) / "digits")
    theirs = lambda steps, batch, resolution: original_loop(table, "tiny", resolution, 1, batch, warmup=0, steps=steps)
    rows, load_before = [], load_1m()
    for r in range(args.repeats):
        for name, fn in (("original loop (per-item PIL transforms)", theirs), ("class_ddpm train()", our_loop)):
            times = fn(args.steps, args.batch_size, args.resolution)[args.warmup:]
            s = float(np.median(times))
            rows.append(dict(loop=name, repeat=r, steps=len(times), seconds_per_step=s, images_per_second=args.batch_size / s,
                             load_1m=load_1m()))
            print(rows[-1], flush=True)
    summary = []
    for name in dict.fromkeys(r["loop"] for r in rows):
        ips = [r["images_per_second"] for r in rows if r["loop"] == name]
        summary.append(dict(loop=name, images_per_second=float(np.median(ips)), steps_per_second=float(np.median(ips)) / args.batch_size))
    ratio = summary[1]["images_per_second"] / summary[0]["images_per_second"]
    notes = (f"Tiny preset, {args.resolution} px, batch {args.batch_size}, EMA on, median over steps {args.warmup}..{args.steps} "
             f"of {args.repeats} alternating runs each. class_ddpm / original = {ratio:.2f}x. "
             f"Load average (1 min) before: {load_before}, after: {load_1m()}.")
    write_results(d, "train_throughput", summary + rows, ["loop", "images_per_second", "steps_per_second", "repeat", "load_1m"],
                  "Training throughput: class_ddpm vs the original loop", notes)


if __name__ == "__main__":
    main()
