"""The original script's training loop, one copy for the benchmarks that time it (`gpu`, `train_throughput`).

The original `train_conditional.py` (diffusers' `train_unconditional.py` with labels) read a `datasets` table of
images whose `set_transform` decoded, resized and normalised every image with PIL, one item at a time, in a
DataLoader with no workers; it drew noise and timesteps from the global RNG, fed the label through the timestep
embedding, trained epsilon on linear betas at lr 1e-4 with an EMA, and read the loss on the host every step.
"""
import io, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PRESETS = {"cifar10": dict(resolution=32, channels=3, images=2560),  # 2560 = 20 x 128 = 40 x 64: no short last batch
           "tiny": dict(resolution=16, channels=1, images=1792)}     # the first 1792 of the 1797 digits, for the same reason


def make_table(preset: str, folder: Path, n: int = None) -> Path:
    "Write the data of `preset` as a `datasets` table (PNG images, ClassLabel labels) into `folder`; return it."
    import datasets
    from PIL import Image
    n = n or PRESETS[preset]["images"]
    if preset == "tiny":  # the built-in digits, 8x8 grey, as the original script would have read them
        from sklearn.datasets import load_digits
        d = load_digits()
        arrays, labels = [np.round(a * 255 / 16).astype(np.uint8) for a in d.images[:n]], d.target[:n].tolist()
    else:  # CIFAR-shaped random images (no network on the GPU machine); the speed of a step does not depend on content
        rng = np.random.default_rng(0)
        arrays = list(rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8))
        labels = [i % 10 for i in range(n)]
    pngs = []
    for a in arrays:
        b = io.BytesIO(); Image.fromarray(a).save(b, "PNG"); pngs.append({"bytes": b.getvalue(), "path": None})
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=[str(i) for i in range(10)])})
    ds = datasets.Dataset.from_dict({"image": pngs, "label": labels}, features=features)
    datasets.disable_progress_bars()
    ds.save_to_disk(str(folder))
    return folder


def original_loop(table: Path, preset: str, resolution: int, channels: int, batch: int, warmup: int, steps: int,
                  cap_s: float = float("inf")) -> list:
    "The original `train_conditional.py` loop (fp32) on `table`; the seconds of each timed step (after `warmup`)."
    import datasets
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from PIL import Image
    from class_ddpm.corruption import make_scheduler
    from class_ddpm.unet import conditional_unet
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.manual_seed(0)
    accelerator = Accelerator(mixed_precision="no")
    # the original script's UNet: the preset's layout with the label fed through the timestep embedding
    model = conditional_unet(10, resolution, in_channels=channels, preset=preset, null_class=False, class_embed_type="timestep")
    noise_scheduler = make_scheduler(1000, "linear", "epsilon")  # its defaults: --ddpm_beta_schedule linear, epsilon
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    dataset = datasets.load_from_disk(str(table))
    mode = "L" if channels == 1 else "RGB"

    def augment(im):  # Resize, CenterCrop/RandomCrop (no-ops on square images), ToTensor, Normalize([0.5], [0.5])
        im = im.convert(mode).resize((resolution, resolution), Image.BILINEAR)
        a = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255)
        return (a[None] if a.ndim == 2 else a.permute(2, 0, 1)).sub(0.5).div(0.5)

    dataset.set_transform(lambda ex: {"input": [augment(im) for im in ex["image"]], "label": ex["label"]})
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=0)  # its default: no workers
    lr_scheduler = get_scheduler("cosine", optimizer=optimizer, num_warmup_steps=500, num_training_steps=10_000)
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75)
    ema.to(accelerator.device)
    times, step = [], 0
    try:
        while True:
            t0 = time.perf_counter()
            for b in loader:
                clean, labels = b["input"], b["label"]
                noise = torch.randn(clean.shape).to(clean.device)  # drawn on the CPU and copied, as the original did
                t = torch.randint(0, 1000, (clean.shape[0],), device=clean.device).long()
                noisy = noise_scheduler.add_noise(clean, noise, t)
                with accelerator.accumulate(model):
                    pred = model(noisy, t, class_labels=labels).sample
                    loss = F.mse_loss(pred.float(), noise.float())  # epsilon target: the original's SNR weight is 1
                    accelerator.backward(loss)
                    if accelerator.sync_gradients: accelerator.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step(); lr_scheduler.step(); optimizer.zero_grad()
                if accelerator.sync_gradients: ema.step(model.parameters())
                loss.detach().item()  # the original logged the loss every step: the host waits for the device
                step += 1
                if step > warmup: times.append(time.perf_counter() - t0)
                if len(times) >= steps or sum(times) >= cap_s: return times
                t0 = time.perf_counter()
    finally:
        accelerator.free_memory()  # drop accelerate's references to the model and optimiser
