"""Shared helpers of the benchmarks: where results go (`class_ddpm/results/NAME/`), what machine they came from, tables."""
import argparse, csv, datetime, os, platform, tempfile, time
from pathlib import Path

import torch

from class_ddpm.assets import RESULTS_DIR, format_value, markdown_table, package_dir, parse_value

RESULTS = package_dir() / RESULTS_DIR  # shipped with the package: the lessons read the tables where they run alone
RUNS = Path(__file__).resolve().parent / "runs"  # trained models (not committed: .gitignore has runs/)


def parser(description: str) -> argparse.ArgumentParser:
    "An argument parser with the flags every benchmark has."
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="a tiny version that only checks the script runs (results go to a temporary folder)")
    p.add_argument("--out", default=None, help="results folder: NAME/ goes in it (default: class_ddpm/results)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own choice, one per core); 1 is faster on an oversubscribed machine")
    return p


def setup(args):
    "Apply the common flags; return the output folder."
    if args.threads: torch.set_num_threads(args.threads)
    return out_dir(args)


def out_dir(args) -> Path:
    "class_ddpm/results for a full run; a temporary folder for --quick unless --out is given."
    if args.out: d = Path(args.out)
    elif args.quick: d = Path(tempfile.mkdtemp(prefix="class_ddpm_bench_quick_"))
    else: d = RESULTS
    d.mkdir(parents=True, exist_ok=True)
    return d


def load_1m() -> float:
    "The 1-minute load average (what `uptime` shows first): how busy the machine was."
    return round(os.getloadavg()[0], 2)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"): return line.split(":", 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def machine() -> str:
    "One line: the device, the CPU, its cores and torch's threads, torch's version."
    dev = (f"GPU {torch.cuda.get_device_name(0)} (compute capability {'.'.join(map(str, torch.cuda.get_device_capability(0)))}, "
           f"CUDA {torch.version.cuda})" if torch.cuda.is_available() else "CPU only")
    return (f"{dev}; {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"{platform.system()} {platform.release()}")


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


fmt = format_value  # one renderer for tables: class_ddpm.assets, shared with the results page and the lessons


def result_dir(d: Path, name: str) -> Path:
    "The folder of table `name` under the results folder `d` (made if missing): NAME.csv, NAME.md, NAME.png and its other files."
    (Path(d) / name).mkdir(parents=True, exist_ok=True)
    return Path(d) / name


def shown_path(path) -> str:
    "A path as a results note shows it: relative to the repository when inside it, never a machine's own folders."
    p, root = Path(path).resolve(), Path(__file__).resolve().parents[1]
    try: return str(p.relative_to(root))
    except ValueError: return p.name


def write_results(d: Path, name: str, rows: list, columns: list, title: str, notes: str = "") -> str:
    """Write NAME/NAME.csv (every column) and NAME/NAME.md (title, the machine it ran on, notes, the table of `columns`,
    saying so when they are fewer than the CSV's) under `d`; print the table; return it."""
    allcols = list(dict.fromkeys(columns + [k for r in rows for k in r]))
    out = result_dir(d, name)
    with open(out / f"{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, allcols); w.writeheader(); w.writerows(rows)
    table = markdown_table(rows, columns)
    shown = "" if columns == allcols else f"The table shows {len(columns)} of the {len(allcols)} columns of `{name}.csv`, which holds them all.\n\n"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (out / f"{name}.md").write_text(f"**{title}.** Measured {stamp} on: {machine()}.\n\n{notes}\n\n{shown}{table}")
    print(f"\n{title}  ({machine()})\n\n{table}\n{notes}\nwrote {out / (name + '.csv')}, {out / (name + '.md')}")
    return table



class Timer:
    "with Timer() as t: ...; t.seconds (synchronises CUDA so GPU times are real)."
    def __enter__(self):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        self.start = time.perf_counter(); return self
    def __exit__(self, *exc):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


# --- trained runs and their checkpoints -------------------------------------------------------------

def checkpoint_steps(run_dir) -> dict:
    "step -> checkpoint folder, for the complete checkpoints of a run."
    from class_ddpm.training import list_checkpoints
    return {int(p.name.split("-")[1]): p for p in list_checkpoints(run_dir)}


def checkpoint_seconds(run_dir, start: float) -> dict:
    "step -> seconds from `start` (a time.time()) until the checkpoint was complete (its state file written)."
    from class_ddpm.training import STATE_FILE
    return {s: (p / STATE_FILE).stat().st_mtime - start for s, p in checkpoint_steps(run_dir).items()}


def checkpoint_pipeline(run_dir, checkpoint, ema: bool = True):
    """The run's saved pipeline (sampler, class names) with the weights of `checkpoint`: its EMA weights when it has them,
    from either layout: `unet_ema/` (diffusers `EMAModel.save_pretrained`: safetensors) or the older
    `custom_checkpoint_0.pkl` (`EMAModel.state_dict()` saved by accelerate, read with weights_only=True)."""
    from safetensors.torch import load_file
    from class_ddpm.pipeline import ClassConditionalPipeline
    pipe = ClassConditionalPipeline.from_pretrained(str(run_dir))
    ckpt = Path(checkpoint)
    ema_dir, ema_pkl = ckpt / "unet_ema", ckpt / "custom_checkpoint_0.pkl"
    if ema and (ema_dir / "diffusion_pytorch_model.safetensors").exists():
        pipe.unet.load_state_dict(load_file(str(ema_dir / "diffusion_pytorch_model.safetensors")))
    elif ema and ema_pkl.exists():  # tensors and numbers only: weights_only=True refuses anything else
        shadow = torch.load(ema_pkl, weights_only=True, map_location="cpu")["shadow_params"]
        params = list(pipe.unet.parameters())
        assert len(shadow) == len(params), f"{ema_pkl}: {len(shadow)} EMA tensors for {len(params)} parameters"
        with torch.no_grad():
            for p, s in zip(params, shadow): p.copy_(s)
    else:
        pipe.unet.load_state_dict(load_file(str(ckpt / "model.safetensors")))
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device())


_JUDGE = None
def judge():
    "The digits judge (seed 0), trained once per process."
    global _JUDGE
    if _JUDGE is None:
        from class_ddpm.metrics import DigitsJudge
        _JUDGE = DigitsJudge(seed=0)
        print(f"{_JUDGE}", flush=True)
    return _JUDGE


# --- fidelity: every quality figure with n, its real-vs-real floor and the ratio ------------------------

FIDELITY_NOTE = ("Fidelity is `class_ddpm.metrics.FidelityJudge` (lesson 07) at the training resolution: features are whitened "
                 "coordinates on the leading principal components (99.9% of the variance) of real digits rendered exactly as "
                 "the training data (fit on half of them); the Frechet distance to those real digits is reported with its floor, the distance of "
                 "`n` held-out real digits (mean of 5 draws, at the same n), and `ratio` = Frechet / floor (the headline: 1 = "
                 "as close as real digits; lower is closer, down to 1, and a ratio well below 1 would mean the measure is wrong); `ratio_unwhitened`, the second view, is the same ratio in the 40 leading "
                 "principal components in pixel units (not whitened, fit on the same reference, its floor from the same held-out "
                 "draws), where the strokes count most and the faint directions hardly at all; KID (unbiased, ± its standard error) beside its floor; precision "
                 "(share of samples on the real digits' k-NN manifold: fidelity) and recall (share of real digits on the "
                 "samples' manifold: diversity), each beside its real-vs-real floor. Accuracy is the digits judge's (a small "
                 "classifier on 8x8 digits); `judge_frechet` is that classifier's 8x8 Frechet distance, reported beside only.")


def quality(r: dict, suffix: str = "") -> dict:
    """A `judge_pipeline` result as flat columns: accuracy, worst digit, n, ratio, Frechet with its floor, KID, precision, recall,
    and the second view's ratio, Frechet and floor (`_unwhitened`: unwhitened principal components, the same held-out draws)."""
    f = r["fidelity"]
    cols = dict(accuracy=r["accuracy"], worst_digit_accuracy=min(r["per_class"].values()), n=f.n, ratio=f.ratio,
                frechet=f.frechet, floor=f.floor, floor_sd=f.floor_sd, kid=f.kid, kid_se=f.kid_se, kid_floor=f.kid_floor,
                precision=f.precision, precision_floor=f.precision_floor, recall=f.recall, recall_floor=f.recall_floor,
                ratio_unwhitened=f.ratio_unwhitened, frechet_unwhitened=f.frechet_unwhitened,
                floor_unwhitened=f.floor_unwhitened, floor_unwhitened_sd=f.floor_unwhitened_sd,
                judge_frechet=r["judge_frechet"], seconds_per_image=r["seconds_per_image"])
    return {k + suffix: (float(v) if isinstance(v, float) else v) for k, v in cols.items()}


def fidelity_text(row: dict, suffix: str = "") -> str:
    """One phrase: 'Frechet F = Rx the real-vs-real floor G at n=N; unwhitened F' = R'x its floor G'; KID K ± S (floor);
    precision P (floor), recall Q (floor)' (the unwhitened part only where the row has it)."""
    g = lambda k: row[k + suffix]
    unwhitened = (f"unwhitened Frechet {g('frechet_unwhitened'):.3g} = {g('ratio_unwhitened'):.2f}x its floor "
                  f"{g('floor_unwhitened'):.3g}; " if row.get("ratio_unwhitened" + suffix) not in (None, "") else "")
    return (f"Frechet {g('frechet'):.3g} = {g('ratio'):.2f}x the real-vs-real floor {g('floor'):.3g} at n={g('n')}; {unwhitened}"
            f"KID {g('kid'):.2g} ± {g('kid_se'):.1g} (floor {g('kid_floor'):.1g}); precision {g('precision'):.2f} "
            f"(floor {g('precision_floor'):.2f}), recall {g('recall'):.2f} (floor {g('recall_floor'):.2f})")


def ratio_axis(ax, label: str = "Frechet / real-vs-real floor (log)"):
    "A log axis for the ratio with the floor (1) drawn."
    from matplotlib.ticker import FuncFormatter
    ax.set_yscale("log"); ax.axhline(1, color="grey", ls=":", lw=1); ax.set_ylabel(label)
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 1, 2, 5 rather than 10^0, 2x10^0
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}".lstrip("0.")[:1] in ("2", "5") else ""))


# --- UNet sizes that are no preset ---------------------------------------------------------------------

UNET_SIZES = {  # name -> `conditional_unet` settings; "nano" and "tiny" are the presets themselves
    "nano": dict(preset="nano"),  # the digits default
    "tiny": dict(preset="tiny"),
    # the original train_conditional.py's UNet (diffusers' train_unconditional.py: two layers per block, attention at the
    # second-to-last level) at the tiny preset's 32-64-64 channels and three levels
    "original": dict(preset="tiny", layers_per_block=2, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                     up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D")),
}


def unet_config_dir(folder, size: str = "tiny", resolution: int = 16, num_classes: int = 10, **overrides) -> str:
    "Write the config of a digits UNet of `size` (plus overrides) into `folder` for `TrainConfig.model_config_name_or_path`."
    from class_ddpm.unet import conditional_unet
    kw = {**UNET_SIZES[size], **overrides}
    unet = conditional_unet(num_classes, resolution, in_channels=1, **kw)
    Path(folder).mkdir(parents=True, exist_ok=True)
    unet.save_config(str(folder))
    return str(folder)
