"""GPU training throughput: the original script's loop against class_ddpm's `train`, with peak memory, in one command.

Settings (28 on a GPU): the `cifar10` preset at 32 px (3 channels, CIFAR-shaped random images) and the `tiny` preset
at 16 px (1 channel, the built-in digits), at batch 64 and 128, for
  (a) the original loop (`original_loop`): fp32, the original script's UNet (the preset with its "timestep" label
      embedding), its defaults (epsilon, linear betas, lr 1e-4, EMA) and its data path (a `datasets` table of PNGs
      decoded and transformed per image with PIL in a DataLoader), the loss read on the host every step;
  (b) ours (`ours`): `class_ddpm.training.train` itself, in fp32, fp16 and bf16, with and without `compile`
      (`TrainConfig.compile`, where this class_ddpm has it), timed from its metrics log.
Images/s leave out the warm-up steps (allocation, cuDNN's choices, compilation). Each setting runs a fixed number of
steps, fewer when the time cap would be passed; the settings are run in order of importance (the original loop, ours
without compile, then with compile) and a setting that would overrun the time budget is skipped, with the reason in
the CSV. Peak memory is `torch.cuda.max_memory_allocated`, reset between settings. On an H200 it takes under 5 minutes.

    python -m benchmarks.gpu                 # on one GPU: class_ddpm/results/gpu/
    python -m benchmarks.gpu --quick         # on the CPU, in seconds: checks that it runs (a temporary folder)
"""
import dataclasses, gc, shutil, tempfile, time, traceback
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import result_dir, load_1m, machine, parser, setup, write_results
from benchmarks.original_loop import PRESETS, make_table, original_loop

PRECISIONS = ("fp32", "fp16", "bf16")
MIXED = {"fp32": "no", "fp16": "fp16", "bf16": "bf16"}  # TrainConfig.mixed_precision
COLUMNS = ["loop", "preset", "resolution", "batch", "precision", "compile", "status", "images_per_s", "vs_original",
           "ms_per_step", "peak_mem_gib", "timed_steps", "setting_s"]


def train_fields() -> set:
    "The fields of this class_ddpm's `TrainConfig` (`compile` and `logging_steps` are checked for)."
    from class_ddpm.training import TrainConfig
    return {f.name for f in dataclasses.fields(TrainConfig)}


# --- (b) ours: class_ddpm's train() ------------------------------------------------------------------------------------

def ours(table: Path, preset: str, resolution: int, batch: int, precision: str, compile_: bool, warmup: int, steps: int):
    "`train` for `warmup + steps` steps; returns (timed steps, their seconds, logging_steps used) from its metrics log."
    from class_ddpm.training import TrainConfig, read_metrics, train
    fields = train_fields()
    out = Path(tempfile.mkdtemp(prefix="class_ddpm_gpu_")) / "run"
    extra = {}
    if "compile" in fields: extra["compile"] = compile_
    if "logging_steps" in fields: extra["logging_steps"] = warmup  # a logged row (and host sync) at the warm-up's end
    try:
        train(TrainConfig(dataset_name=str(table), resolution=resolution, preset=preset, output_dir=str(out),
                          train_batch_size=batch, max_train_steps=warmup + steps, mixed_precision=MIXED[precision],
                          checkpointing_steps=10 ** 9, save_images_epochs=10 ** 6, save_model_epochs=10 ** 6,
                          num_images_per_class=1, eval_batch_size=10, num_inference_steps=1, guidance_scale=1.0,
                          use_ema=True, seed=0, **extra))
        m = read_metrics(out)
        after = np.flatnonzero(m["step"] >= warmup)
        if len(after) < 2: raise RuntimeError(f"the metrics log has {len(after)} rows from step {warmup} on: cannot time it")
        a, b = after[0], after[-1]
        return int(m["step"][b] - m["step"][a]), float(m["time"][b] - m["time"][a]), extra.get("logging_steps", 1)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


# --- the settings and the run ------------------------------------------------------------------------------------------

def settings(presets, batches, precisions, with_compile):
    "Every setting, most important first: the original loop, ours without compile, ours with compile (largest batch first)."
    s = [dict(loop="original", preset=p, batch=b, precision="fp32", compile=False) for p in presets for b in batches]
    s += [dict(loop="class_ddpm", preset=p, batch=b, precision=x, compile=False) for p in presets for b in batches for x in precisions]
    if with_compile:
        s += [dict(loop="class_ddpm", preset=p, batch=b, precision=x, compile=True)
              for b in sorted(batches, reverse=True) for x in sorted(precisions, key=("fp16", "bf16", "fp32").index) for p in presets]
    return s


def skip_reason(s: dict, dev: torch.device, fields: set, quick: bool):
    "Why setting `s` cannot run here (None if it can)."
    if s["precision"] == "fp16" and dev.type != "cuda":
        return "fp16 needs a CUDA GPU (no float16 autocast on the CPU; class_ddpm's train refuses it there)"
    if s["precision"] == "bf16" and dev.type == "cuda" and torch.cuda.get_device_capability(0) < (8, 0):
        cap = ".".join(map(str, torch.cuda.get_device_capability(0)))
        return f"bf16 needs compute capability 8.0 (Ampere) or newer; this GPU has {cap}"
    if s["compile"] and "compile" not in fields:
        return "this class_ddpm's TrainConfig has no compile field: not measured"
    if s["compile"] and dev.type != "cuda" and quick:
        return "compile skipped on the CPU in --quick (compiling the UNet takes minutes there)"
    return None


def gpu_info(dev: torch.device) -> dict:
    "The device's name, compute capability and torch version, for every row."
    if dev.type == "cuda":
        cap = torch.cuda.get_device_capability(0)
        return dict(device=torch.cuda.get_device_name(0), capability=f"{cap[0]}.{cap[1]}", torch=torch.__version__,
                    cuda=torch.version.cuda)
    return dict(device="cpu", capability="", torch=torch.__version__, cuda="")


# torch >= 2.9 has `fp32_precision` (what class_ddpm's train sets); there, reading `allow_tf32` after it was set is an error
NEW_TF32_API = hasattr(torch.backends.cuda.matmul, "fp32_precision")


def set_tf32(matmul: bool, cudnn: bool):
    "Allow TF32 or not, through the API class_ddpm's train uses on this torch (mixing the two APIs is an error)."
    if NEW_TF32_API:
        torch.backends.cuda.matmul.fp32_precision = "tf32" if matmul else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if cudnn else "ieee"
    else: torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def tf32_flags() -> dict:
    "Whether matmuls and convolutions may use TF32 now ('none' in the new API means: as the level above says)."
    if NEW_TF32_API:
        def allowed(*levels):
            return next((v for v in (l.fp32_precision for l in levels) if v != "none"), "ieee") == "tf32"
        b = torch.backends
        matmul, cudnn = allowed(b.cuda.matmul, b), allowed(b.cudnn.conv, b.cudnn, b)
    else: matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    return dict(tf32_matmul=matmul, tf32_cudnn=cudnn, cudnn_benchmark=torch.backends.cudnn.benchmark)


def free(dev):
    gc.collect()
    if dev.type == "cuda": torch.cuda.empty_cache()


def run_setting(s, tables, dev, plan, fields):
    "Measure one setting; return its row (status measured or failed)."
    p = PRESETS[s["preset"]]
    warmup, steps, cap_s = plan["warmup"][s["preset"]], plan["steps"][s["preset"]], plan["cap_s"]
    row = dict(status="measured", reason="", warmup_steps=warmup, logging_steps="")
    free(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        if s["compile"]: torch._dynamo.reset()  # a cold compile per setting, never a cache hit or an eager fallback
    if s["loop"] == "original":  # PyTorch's defaults, which the original script ran under (our train may change them)
        set_tf32(matmul=False, cudnn=True)
        torch.backends.cudnn.benchmark = False
    t0 = time.perf_counter()
    try:
        if s["loop"] == "original":
            times = original_loop(tables[s["preset"]], s["preset"], p["resolution"], p["channels"], s["batch"], warmup, steps, cap_s)
            n, secs = len(times), float(sum(times))
        else:
            # the time cap: no more steps than the original loop (fp32, same preset and batch) takes in cap_s seconds
            ref = plan["original_s_per_step"].get((s["preset"], s["batch"]))
            if ref: steps = max(warmup, min(steps, int(cap_s / ref) // warmup * warmup))
            n, secs, row["logging_steps"] = ours(tables[s["preset"]], s["preset"], p["resolution"], s["batch"], s["precision"],
                                                 s["compile"], warmup, steps)
        row.update(timed_steps=n, seconds_timed=round(secs, 3), images_per_s=s["batch"] * n / secs, ms_per_step=1000 * secs / n)
        if s["loop"] == "original": plan["original_s_per_step"][(s["preset"], s["batch"])] = secs / n
    except Exception as e:  # an out-of-memory or a compile error fails this setting, not the run
        msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
        row.update(status="failed", reason=msg)
        traceback.print_exc()
    row["setting_s"] = round(time.perf_counter() - t0, 1)
    if dev.type == "cuda": row["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2 ** 30, 3)
    row.update(tf32_flags())
    free(dev)
    return row


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--budget_s", type=float, default=285, help="seconds for the whole run; settings that would overrun it are skipped")
    p.add_argument("--cap_s", type=float, default=8, help="time cap of one setting's timed steps (seconds)")
    p.add_argument("--presets", nargs="+", default=["cifar10", "tiny"], choices=list(PRESETS))
    p.add_argument("--batches", nargs="+", type=int, default=[64, 128])
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    p.add_argument("--no_compile", action="store_true", help="leave out the compile settings")
    p.add_argument("--name", default="gpu", help="the results' file name (NAME.csv, NAME.md, NAME.png)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type != "cuda" and not args.quick:
        p.error("no CUDA GPU here: this benchmark is for a GPU (use --quick for the CPU check, which writes to a temporary folder)")
    d = setup(args)
    fields = train_fields()
    if args.quick:  # a couple of tiny settings on the CPU: seconds
        if NEW_TF32_API:  # on CUDA, train sets TF32 through fp32_precision; the rows must still read the flags after it
            torch.backends.cuda.matmul.fp32_precision = "tf32"
            assert tf32_flags()["tf32_matmul"]; set_tf32(matmul=False, cudnn=True)
        args.presets, args.batches = ["tiny"], [8]
        plan = dict(warmup={"tiny": 1, "cifar10": 1}, steps={"tiny": 2, "cifar10": 2}, cap_s=5.0)
    else:  # step counts for a modern GPU; on a slower one the time cap (--cap_s) shortens them
        plan = dict(warmup={"tiny": 10, "cifar10": 5}, steps={"tiny": 100, "cifar10": 40}, cap_s=args.cap_s)
    plan["original_s_per_step"] = {}
    info, load_before = gpu_info(dev), load_1m()
    print(f"{machine()}\ncompute capability {info['capability'] or '-'}; TrainConfig has compile: {'compile' in fields}, "
          f"logging_steps: {'logging_steps' in fields}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="class_ddpm_gpu_data_"))
    tables = {pr: make_table(pr, work / pr) for pr in args.presets}
    # what a setting is expected to cost (seconds, set from the last one of its kind), to keep inside the budget
    guess = ({("cifar10", False): 30.0, ("tiny", False): 15.0, ("cifar10", True): 120.0, ("tiny", True): 60.0} if dev.type == "cuda"
             else {(pr, c): 20.0 if not c else 600.0 for pr in PRESETS for c in (False, True)})
    spent = {}
    rows = []
    try:
        for s in settings(args.presets, args.batches, args.precisions, not args.no_compile):
            pr = PRESETS[s["preset"]]
            row = dict(s, resolution=pr["resolution"], channels=pr["channels"], **info)
            reason = skip_reason(s, dev, fields, args.quick)
            left = args.budget_s - (time.perf_counter() - start)
            cost = spent.get((s["preset"], s["compile"]), guess[(s["preset"], s["compile"])])
            if reason is None and cost > left:
                reason = (f"not run: the time budget (--budget_s {args.budget_s:g}) had {max(left, 0):.0f} s left, "
                          f"this setting was expected to take {cost:.0f} s")
            if reason is not None:
                row.update(status="skipped", reason=reason)
            else:
                row.update(run_setting(s, tables, dev, plan, fields))
                if row["status"] == "measured": spent[(s["preset"], s["compile"])] = row["setting_s"]
            row["load_1m"] = load_1m()
            rows.append(row)
            print({k: row.get(k, "") for k in COLUMNS + ["reason"]}, flush=True)
            write_partial(result_dir(d, args.name) / f"{args.name}.csv", rows)  # if the run is stopped, what was measured is kept
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:  # speed relative to the original loop at the same preset and batch
        base = next((b for b in rows if b["loop"] == "original" and b["preset"] == r["preset"] and b["batch"] == r["batch"]
                     and b.get("images_per_s")), None)
        r["vs_original"] = r["images_per_s"] / base["images_per_s"] if base and r.get("images_per_s") else ""
    total = time.perf_counter() - start
    notes = summary(rows, info, plan, fields, total, load_before, args)
    write_results(d, args.name, rows, COLUMNS, "GPU training throughput: the original loop and class_ddpm's train", notes)
    plot(rows, result_dir(d, args.name) / f"{args.name}.png", info)
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}; the run took {total:.0f} s")
    return rows


def write_partial(path: Path, rows: list):
    "The rows so far as a CSV (the final write replaces it with the complete table, notes and plot)."
    import csv
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols); w.writeheader(); w.writerows(rows)


def summary(rows, info, plan, fields, total, load_before, args) -> str:
    "The notes of NAME.md: what was measured, the headline figures, what was skipped and why."
    measured = [r for r in rows if r["status"] == "measured"]
    lines = [f"Device: {info['device']}" + (f" (compute capability {info['capability']}, CUDA {info['cuda']})" if info["capability"] else "")
             + f", torch {info['torch']}. The whole run took {total:.0f} s (budget {args.budget_s:g} s); "
             f"1-minute load average {load_before} before, {load_1m()} after.",
             "",
             "Images/s of training steps after the warm-up (" + ", ".join(f"{k}: {plan['warmup'][k]} steps" for k in args.presets) +
             "); at most " + ", ".join(f"{k}: {plan['steps'][k]}" for k in args.presets) + f" timed steps or {plan['cap_s']:g} s per setting. "
             "`original` is the original script's loop (fp32, its UNet, per-image PIL transforms in a DataLoader, the loss "
             "read every step); `class_ddpm` is `class_ddpm.training.train`, timed from its metrics log. `vs_original` "
             "divides by the original loop at the same preset and batch. `peak_mem_gib`: `torch.cuda.max_memory_allocated`, "
             "reset before each setting (for `class_ddpm` it includes the final one-step sample grid). "
             f"This class_ddpm's TrainConfig has `compile`: {'compile' in fields}; `logging_steps`: {'logging_steps' in fields}."]
    for pr in dict.fromkeys(r["preset"] for r in rows):
        for b in dict.fromkeys(r["batch"] for r in rows):
            o = next((r for r in measured if r["loop"] == "original" and r["preset"] == pr and r["batch"] == b), None)
            ours_ = [r for r in measured if r["loop"] == "class_ddpm" and r["preset"] == pr and r["batch"] == b]
            if not o or not ours_: continue
            best = max(ours_, key=lambda r: r["images_per_s"])
            lines.append(f"- {pr}, batch {b}: original {o['images_per_s']:.0f} images/s; class_ddpm at best "
                         f"{best['images_per_s']:.0f} ({best['precision']}{', compiled' if best['compile'] else ''}, "
                         f"{best['vs_original']:.2f}x).")
    skipped = [r for r in rows if r["status"] != "measured"]
    if skipped:
        lines.append("")
        lines.append("Not measured:")
        for reason in dict.fromkeys(r["reason"] for r in skipped):
            n = sum(r["reason"] == reason for r in skipped)
            lines.append(f"- {n} setting(s): {reason}")
    return "\n".join(lines)


def plot(rows, path, info):
    "One panel per preset: images/s of each loop/precision/compile setting, one bar per batch size."
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    batches = sorted(dict.fromkeys(r["batch"] for r in rows))
    fig, axs = plt.subplots(1, len(presets), figsize=(5.5 * len(presets), 3.6), squeeze=False)
    for ax, pr in zip(axs[0], presets):
        rs = [r for r in rows if r["preset"] == pr]
        order = ["original fp32"] + [f"ours {x}{c}" for c in ("", " +compile") for x in PRECISIONS]
        found = {("original fp32" if r["loop"] == "original" else f"ours {r['precision']}{' +compile' if r['compile'] else ''}")
                 for r in rs}
        labels = [lab for lab in order if lab in found]
        w = 0.8 / len(batches)
        for j, b in enumerate(batches):
            for i, lab in enumerate(labels):
                r = next((r for r in rs if r["batch"] == b and
                          ("original fp32" if r["loop"] == "original" else f"ours {r['precision']}{' +compile' if r['compile'] else ''}") == lab), None)
                x = i + (j - (len(batches) - 1) / 2) * w
                if r is not None and r["status"] == "measured":
                    ax.bar(x, r["images_per_s"], w, color=f"C{j}", label=f"batch {b}" if i == 0 else None)
                else:
                    ax.text(x, 0.02, "not measured", rotation=90, ha="center", va="bottom", fontsize=7, color="gray",
                            transform=ax.get_xaxis_transform())
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("training images / s")
        ax.set_title(f"{pr} preset, {PRESETS[pr]['resolution']} px ({info['device']})", fontsize=9)
        if ax.get_legend_handles_labels()[0]: ax.legend(fontsize=7)
    plt.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


if __name__ == "__main__": main()
