"""Training throughput: our loop (`class_ddpm.training.train`) against the original script's loop, in one run.

The original `train_conditional.py` (diffusers' `train_unconditional.py` with labels) fed a DataLoader over a
`datasets` table whose `set_transform` decoded, resized, flipped and normalised every image with PIL, one item at
a time, and drew noise and timesteps from the global RNG. We rebuild that loop here, with the same UNet (the tiny
preset with its class table), batch, resolution, optimiser, lr schedule, clipping and EMA as ours, and time both
in alternation (original, ours, original, ours, ...) so that a change in the machine's load hits both alike.

Images per second are measured over steps `--warmup`..`--steps` (the first steps pay for allocation and imports).
The 1-minute load average is recorded before and after: on a busy machine the numbers mean little; rerun when
`uptime` shows a load near 0.

    python benchmarks/train_throughput.py                    # class_ddpm/results/train_throughput.{csv,md}
    python benchmarks/train_throughput.py --threads 1        # one torch thread (faster on an oversubscribed CPU)
    python benchmarks/train_throughput.py --quick            # a check that it runs
"""
import io, math, random, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_1m, parser, setup, write_results


def digits_table(resolution):
    "The digits as a `datasets` table of PNG-encoded images, the way `load_dataset('imagefolder')` gives them."
    import datasets
    from PIL import Image
    from sklearn.datasets import load_digits
    d = load_digits()
    pngs = []
    for a in d.images:
        b = io.BytesIO(); Image.fromarray((a * 255 / 16).astype(np.uint8)).save(b, "PNG"); pngs.append(b.getvalue())
    ds = datasets.Dataset.from_dict({"image": [{"bytes": p, "path": None} for p in pngs], "label": d.target.tolist()},
                                    features=datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")}))
    return ds


def original_loop(steps, batch_size, resolution, seed=0):
    "The original script's loop (per-item PIL transforms, global RNG); returns seconds per step after warm-up."
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from PIL import Image
    from class_ddpm.corruption import make_scheduler
    from class_ddpm.unet import conditional_unet
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.manual_seed(seed)
    accelerator = Accelerator()
    model = conditional_unet(10, resolution, in_channels=1, preset="tiny")
    noise_scheduler = make_scheduler(1000, "squaredcos_cap_v2", "epsilon")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    dataset = digits_table(resolution)

    def augment(im):  # Resize, CenterCrop, RandomHorizontalFlip, ToTensor, Normalize([0.5], [0.5]), per image
        im = im.convert("L").resize((resolution, resolution), Image.BILINEAR)
        if random.random() < 0.5: im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255)[None].sub(0.5).div(0.5)

    def transforms(examples):
        return {"input": [augment(im) for im in examples["image"]], "label": examples["label"]}

    dataset.set_transform(transforms)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    lr_scheduler = get_scheduler("cosine", optimizer=optimizer, num_warmup_steps=50, num_training_steps=1000)
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75)
    times, step = [], 0
    while step < steps:
        t0 = time.perf_counter()
        for batch in loader:
            clean, labels = batch["input"], batch["label"]
            noise = torch.randn(clean.shape).to(clean.device)
            t = torch.randint(0, 1000, (clean.shape[0],), device=clean.device).long()
            noisy = noise_scheduler.add_noise(clean, noise, t)
            with accelerator.accumulate(model):
                pred = model(noisy, t, class_labels=labels).sample
                loss = F.mse_loss(pred, noise)
                accelerator.backward(loss)
                if accelerator.sync_gradients: accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step(); lr_scheduler.step(); optimizer.zero_grad()
            if accelerator.sync_gradients: ema.step(model.parameters())
            loss.item()
            times.append(time.perf_counter() - t0); t0 = time.perf_counter()
            step += 1
            if step >= steps: break
    return times


def our_loop(steps, batch_size, resolution, seed=0):
    "Our `train` for `steps` steps with no grids or checkpoints on the way; seconds per step from its metrics log."
    from class_ddpm.training import TrainConfig, read_metrics, train
    out = Path(tempfile.mkdtemp(prefix="class_ddpm_tp_")) / "run"
    train(TrainConfig(output_dir=str(out), resolution=resolution, train_batch_size=batch_size, max_train_steps=steps,
                      checkpointing_steps=10 ** 9, save_images_epochs=10 ** 6, save_model_epochs=10 ** 6,
                      num_images_per_class=1, ddpm_num_inference_steps=1, use_ema=True, seed=seed,
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
    rows, load_before = [], load_1m()
    for r in range(args.repeats):
        for name, fn in (("original loop (per-item PIL transforms)", original_loop), ("class_ddpm train()", our_loop)):
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
