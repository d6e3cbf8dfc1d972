"""What only a GPU can check: fp16 (grad scaler), bf16 and --compile end to end, exact resume, and no host sync per step.

For each precision (fp32, fp16, bf16 where the GPU has it) and for --compile: train 20 steps of the digits (tiny
preset, 16 px, batch 64) with a checkpoint at 10 and 20, resume a second run from checkpoint-10, and check that
the losses are finite, the checkpoints hold what resume needs (scaler.pt under fp16, a float32 EMA as unet_ema/),
the resumed run ends with the same weights (bit for bit is reported; within 1e-4 passes), and the sample grid
and the saved pipeline work. Then it counts the synchronising CUDA calls (torch.cuda.set_sync_debug_mode) of runs
of 10 and 40 steps with no logging window or checkpoint on the way: the steps in between should add none (fp16
may add one per step: the grad scaler reads whether a step overflowed).

    python -m tests.gpu_check             # on a CUDA machine: PASS/FAIL lines, exit status 1 on any FAIL
    python -m tests.gpu_check --no-compile  # skip the torch.compile runs (they spend most of the time compiling)
    python -m tests.gpu_check --cpu       # a smoke test of this script on the CPU: fp32 and bf16 end to end only
    python -m tests.gpu_check --save      # also write the lines to class_ddpm/results/gpu_check/gpu_check.txt

Run from the repository root (`python -m tests.gpu_check`), or as `python -m benchmarks run gpu_check`.
"""
import argparse, os, sys, tempfile, time, traceback, warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from class_ddpm.pipeline import ClassConditionalPipeline
from class_ddpm.training import EMA_FOLDER, TrainConfig, read_metrics, step_generator, train

RESULTS = []
LINES = []  # what was printed, for --save
DEVICE = "cuda"
SMALL = {}  # --cpu: a smaller run (8 px, batch 8), so that the smoke test takes a minute or two


def report(ok, what, detail=""):
    RESULTS.append(ok)
    say(f"{'PASS' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")


def say(line):
    LINES.append(line); print(line, flush=True)


def check(what, fn):
    "Run one check; an exception is a FAIL with its last line."
    t0 = time.time()
    try: fn()
    except Exception as e:
        traceback.print_exc()
        report(False, what, f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    print(f"     ({what}: {time.time() - t0:.0f} s)", flush=True)


def config(out, **kw):
    return TrainConfig(output_dir=str(out), max_train_steps=20, checkpointing_steps=10, logging_steps=5, lr_warmup_steps=5,
                       num_images_per_class=2, eval_batch_size=20, **SMALL, **kw)


def end_to_end(name, work, **kw):
    "Train 20 steps, resume from step 10 in a new folder, compare; check the grid and the pipeline."
    a = train(config(work / f"{name}-A", **kw))
    b = train(config(work / f"{name}-B", resume_from_checkpoint=str(work / f"{name}-A" / "checkpoint-10"), **kw))
    m = read_metrics(a)
    report(bool(np.isfinite(m["loss"]).all()), f"{name}: 20 steps, finite losses", f"last {m['loss'][-1]:.4f}")
    ck = a / "checkpoint-20"
    ema = load_file(ck / EMA_FOLDER / "diffusion_pytorch_model.safetensors")
    report(all(v.dtype == torch.float32 for v in ema.values()), f"{name}: EMA saved as float32 safetensors in unet_ema/")
    if kw.get("mixed_precision") == "fp16":
        report((ck / "scaler.pt").exists(), f"{name}: the grad scaler's state is in the checkpoint (scaler.pt)")
    worst, bitwise = 0.0, True
    for f in ("model.safetensors", f"{EMA_FOLDER}/diffusion_pytorch_model.safetensors"):
        x, y = load_file(ck / f), load_file(b / "checkpoint-20" / f)
        bitwise &= all(torch.equal(x[k], y[k]) for k in x)
        worst = max(worst, max((x[k].float() - y[k].float()).abs().max().item() for k in x))
    report(worst < 1e-4, f"{name}: resumed from step 10, same weights at step 20",
           f"bit for bit: {bitwise}, largest difference {worst:.2e}")
    mb = read_metrics(b)
    report(bool(np.allclose(m["loss"][-len(mb["loss"]):], mb["loss"], rtol=1e-3)), f"{name}: resumed run logged the same losses")
    grid = np.asarray(Image.open(sorted((a / "samples").glob("epoch_*.png"))[-1]))
    report(grid.std() > 1, f"{name}: sample grid drawn", f"{grid.shape}, pixel std {grid.std():.1f}")
    pipe = ClassConditionalPipeline.from_pretrained(str(a)).to(DEVICE)
    pipe.set_progress_bar_config(disable=True)
    imgs = pipe(class_labels=[0, 1], num_inference_steps=5, generator=torch.Generator(DEVICE).manual_seed(0), output_type="np").images
    report(bool(np.isfinite(imgs).all()), f"{name}: saved pipeline loads and samples on {DEVICE}")


def syncs(work, steps, **kw):
    "Synchronising CUDA calls of a whole run of `steps` steps with no logging window or checkpoint before its end."
    c = TrainConfig(output_dir=str(work / f"sync-{steps}-{time.time_ns()}"), max_train_steps=steps, checkpointing_steps=10 ** 6,
                    logging_steps=10 ** 6, save_images_epochs=10 ** 6, save_model_epochs=10 ** 6, lr_warmup_steps=5,
                    num_images_per_class=1, eval_batch_size=10, num_inference_steps=2, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try: train(c)
        finally: torch.cuda.set_sync_debug_mode(0)
    return sum("synchroniz" in str(w.message) for w in caught)


def no_sync_per_step(work, name, allowed_per_step=0.1, **kw):
    syncs(work, 10, **kw)  # warm-up: first-use allocations and kernels
    n10, n40 = syncs(work, 10, **kw), syncs(work, 40, **kw)
    per = (n40 - n10) / 30
    report(per <= allowed_per_step, f"{name}: synchronising CUDA calls per training step",
           f"{per:.2f} ({n10} in a 10-step run, {n40} in a 40-step run; allowed {allowed_per_step})")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True, help="include the torch.compile runs")
    p.add_argument("--cpu", action="store_true", help="smoke-test this script on the CPU (fp32 and bf16 end to end only)")
    p.add_argument("--save", action="store_true", help="write the lines to class_ddpm/results/gpu_check/gpu_check.txt")
    args = p.parse_args()
    if args.cpu:
        global DEVICE
        DEVICE, work = "cpu", Path(tempfile.mkdtemp(prefix="class_ddpm_gpu_check_"))
        SMALL.update(resolution=8, train_batch_size=8)
        check("fp32", lambda: end_to_end("fp32", work))
        check("bf16", lambda: end_to_end("bf16", work, mixed_precision="bf16"))
        print(f"{sum(RESULTS)} of {len(RESULTS)} checks passed (CPU smoke test)")
        sys.exit(0 if all(RESULTS) else 1)
    if not torch.cuda.is_available(): sys.exit("gpu_check.py needs a CUDA GPU (the CPU paths are tested by nbs/04_training.ipynb).")
    say(f"GPU: {torch.cuda.get_device_name(0)}, capability {torch.cuda.get_device_capability()}, torch {torch.__version__}, "
        f"bf16 supported: {torch.cuda.is_bf16_supported()}")
    work = Path(tempfile.mkdtemp(prefix="class_ddpm_gpu_check_"))
    t0 = time.time()
    g1, g2 = step_generator(0, 5, 0, device="cuda"), step_generator(0, 5, 0, device="cuda")
    report(torch.equal(torch.randn(1000, generator=g1, device="cuda"), torch.randn(1000, generator=g2, device="cuda")),
           "a CUDA step_generator's draws depend only on its key")
    check("fp32 sync count", lambda: no_sync_per_step(work, "fp32"))
    check("fp16 sync count", lambda: no_sync_per_step(work, "fp16", allowed_per_step=1.1, mixed_precision="fp16"))
    check("fp32", lambda: end_to_end("fp32", work))
    check("fp16", lambda: end_to_end("fp16", work, mixed_precision="fp16"))
    if torch.cuda.is_bf16_supported(): check("bf16", lambda: end_to_end("bf16", work, mixed_precision="bf16"))
    else: say("SKIP bf16: this GPU has no bf16")
    if args.compile:
        prec = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        check(f"compile+{prec}", lambda: end_to_end(f"compile-{prec}", work, mixed_precision=prec, compile=True))
    say(f"{sum(RESULTS)} of {len(RESULTS)} checks passed in {time.time() - t0:.0f} s")
    if args.save:
        import datetime
        from benchmarks.common import RESULTS as RESULTS_DIR, machine
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        out = RESULTS_DIR / "gpu_check" / "gpu_check.txt"; out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"tests/gpu_check.py, {stamp}, on: {machine()}\n\n" + "\n".join(LINES) + "\n")
        print(f"wrote {out}")
    sys.exit(0 if all(RESULTS) else 1)


if __name__ == "__main__":
    main()
