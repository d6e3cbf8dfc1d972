"""Benchmark 4: training throughput (images per second) at batch 64 for the tiny preset at 16 px (the digits
model) and the cifar10 preset at 32 px, in fp32 and bf16 autocast, with channels_last off and on.

One timed step is what `class_ddpm.training.train` does per batch: noise the images, run the UNet, the
Min-SNR-weighted v-prediction loss, backward, clip, AdamW. Runs unchanged on a GPU (it uses CUDA when there is one).

    python -m benchmarks.throughput            # full run, writes class_ddpm/results/throughput/
    python -m benchmarks.throughput --quick    # a check that it runs (tiny batches, a temporary folder)
"""
import contextlib

import torch

from benchmarks.common import result_dir, Timer, device, load_1m, parser, setup, write_results
from class_ddpm.corruption import add_noise, make_scheduler
from class_ddpm.snr import diffusion_loss
from class_ddpm.unet import conditional_unet

SETUPS = [dict(preset="tiny", resolution=16, channels=1), dict(preset="cifar10", resolution=32, channels=3)]


def measure(preset, resolution, channels, precision, channels_last, batch, warmup, steps, dev):
    "Images per second of training steps for one setting."
    torch.manual_seed(0)
    unet = conditional_unet(10, resolution, in_channels=channels, preset=preset).to(dev).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    unet = unet.to(memory_format=fmt)
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-4)
    sched = make_scheduler(prediction_type="v_prediction")
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, channels, resolution, resolution, generator=g) * 2 - 1).to(dev)
    y = torch.randint(0, 11, (batch,), generator=g).to(dev)
    autocast = (torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext())

    def step():
        noise = torch.randn(x.shape, generator=g).to(dev)
        t = torch.randint(0, 1000, (batch,), generator=g).to(dev)
        noisy = add_noise(x, noise, t, sched).contiguous(memory_format=fmt)
        with autocast: pred = unet(noisy, t, class_labels=y).sample
        loss = diffusion_loss(pred.float(), x, noise, t, sched, "min_snr", 5.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)

    for _ in range(warmup): step()
    with Timer() as tm:
        for _ in range(steps): step()
    return dict(images_per_s=batch * steps / tm.seconds, ms_per_step=1000 * tm.seconds / steps)


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="timed steps per setting (default: 20 tiny, 4 cifar10; 200/50 on a GPU)")
    args = p.parse_args(argv)
    d, dev = setup(args), device()
    batch = 4 if args.quick else args.batch
    rows = []
    for s in SETUPS:
        if args.steps: steps = args.steps
        elif args.quick: steps = 1
        else: steps = {"tiny": 20, "cifar10": 4}[s["preset"]] * (10 if dev.type == "cuda" else 1)
        warmup = 1 if args.quick else (2 if s["preset"] == "cifar10" else 3)
        for precision in ("fp32", "bf16"):
            for cl in (False, True):
                load = load_1m()
                r = measure(s["preset"], s["resolution"], s["channels"], precision, cl, batch, warmup, steps, dev)
                rows.append(dict(preset=s["preset"], resolution=s["resolution"], channels=s["channels"], batch=batch,
                                 precision=precision, channels_last=cl, device=dev.type, steps=steps, **r,
                                 load_1m_before=load, load_1m_after=load_1m()))
                print(rows[-1], flush=True)
    for r in rows:  # speed relative to fp32 without channels_last of the same preset
        base = next(b for b in rows if b["preset"] == r["preset"] and b["precision"] == "fp32" and not b["channels_last"])
        r["vs_fp32"] = r["images_per_s"] / base["images_per_s"]
    cols = ["preset", "resolution", "batch", "precision", "channels_last", "device", "images_per_s", "ms_per_step", "vs_fp32", "load_1m_before"]
    write_results(d, "throughput", rows, cols, "Benchmark 4: training throughput (images per second)",
                  "One step = noise, UNet forward, Min-SNR v-prediction loss, backward, clipping, AdamW. "
                  "`load_1m_before` is the 1-minute load average of the machine (2 cores) just before the setting was timed.")
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(8, 3))
    for ax, s in zip(axs, SETUPS):
        rs = [r for r in rows if r["preset"] == s["preset"]]
        labels = [f"{r['precision']}\n{'channels_last' if r['channels_last'] else 'contiguous'}" for r in rs]
        ax.bar(range(len(rs)), [r["images_per_s"] for r in rs], color=["C0", "C0", "C1", "C1"])
        ax.set_xticks(range(len(rs)), labels, fontsize=7)
        ax.set_title(f"{s['preset']} preset, {s['resolution']} px, batch {batch} ({dev.type})", fontsize=9)
        ax.set_ylabel("training images / s")
    plt.tight_layout(); fig.savefig(result_dir(d, "throughput") / "throughput.png", dpi=100)
    print(f"wrote {result_dir(d, 'throughput') / 'throughput.png'}")
    return rows


if __name__ == "__main__": main()
