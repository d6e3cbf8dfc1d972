"""Shared helpers of the benchmark scripts: where results go, what machine they came from, tables."""
import argparse, csv, datetime, os, platform, tempfile, time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = Path(__file__).resolve().parent / "runs"  # trained models (not committed: see benchmarks/.gitignore)


def parser(description: str) -> argparse.ArgumentParser:
    "An argument parser with the flags every benchmark has."
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="a tiny version that only checks the script runs (results go to a temporary folder)")
    p.add_argument("--out", default=None, help="folder for the CSV, PNG and table (default: benchmarks/results)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own choice, one per core); 1 is faster on an oversubscribed machine")
    return p


def setup(args):
    "Apply the common flags; return the output folder."
    if args.threads: torch.set_num_threads(args.threads)
    return out_dir(args)


def out_dir(args) -> Path:
    "benchmarks/results for a full run; a temporary folder for --quick unless --out is given."
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
    dev = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU only"
    return (f"{dev}; {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"{platform.system()} {platform.release()}")


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fmt(v):
    if isinstance(v, float): return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def markdown_table(rows: list, columns: list) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |\n" for r in rows)


ORDER = ["time_to_quality", "loss_weighting", "loss_weighting_v_1000", "sampling", "throughput"]  # the benchmarks, in the order of the report


def write_results(d: Path, name: str, rows: list, columns: list, title: str, notes: str = "") -> str:
    """Write NAME.csv (every column), NAME.md (title, machine, notes), machine.txt, and README.md (all results so far);
    print the table (`columns`); return it."""
    allcols = list(dict.fromkeys(columns + [k for r in rows for k in r]))
    with open(d / f"{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, allcols); w.writeheader(); w.writerows(rows)
    table = markdown_table(rows, columns)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (d / f"{name}.md").write_text(f"**{title}.** Measured {stamp} on: {machine()}.\n\n{notes}\n")
    (d / f"{name}.columns").write_text(",".join(columns) + "\n")  # what the README's table shows
    (d / "machine.txt").write_text(f"{machine()}\nlast run: {name}, {stamp}, 1-minute load average {load_1m()}\n")
    write_report(d)
    print(f"\n{title}  ({machine()})\n\n{table}\n{notes}\nwrote {d / (name + '.csv')}, {d / (name + '.md')}")
    return table


def write_report(d: Path):
    "README.md of the results folder: each benchmark's notes, table and plot."
    parts = ["# Benchmark results\n\nWritten by the scripts in `benchmarks/` (see `benchmarks/README.md` for the commands). "
             "Each benchmark's CSV holds every column, including the machine's 1-minute load average when it was measured: "
             "on the 2-core machine a load of about 2 during a run is the benchmark's own two torch threads.\n"]
    for name in ORDER + sorted({p.stem for p in d.glob("*.csv")} - set(ORDER)):
        if not (d / f"{name}.csv").exists(): continue
        with open(d / f"{name}.csv") as f: rows = list(csv.DictReader(f))
        cols_file = d / f"{name}.columns"
        cols = cols_file.read_text().strip().split(",") if cols_file.exists() else list(rows[0])
        rows = [{k: _num(v) for k, v in r.items()} for r in rows]
        md = (d / f"{name}.md").read_text() if (d / f"{name}.md").exists() else ""
        img = f"\n![{name}]({name}.png)\n" if (d / f"{name}.png").exists() else ""
        parts.append(f"## {name.replace('_', ' ')}\n\n{md}\n{markdown_table(rows, cols)}{img}")
    (d / "README.md").write_text("\n".join(parts))


def _num(v: str):
    try: return int(v)
    except ValueError:
        try: return float(v)
        except ValueError: return v


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
    "The run's saved pipeline (sampler, class names) with the weights of `checkpoint`: its EMA weights when it has them."
    from safetensors.torch import load_file
    from class_ddpm.pipeline import ClassConditionalPipeline
    pipe = ClassConditionalPipeline.from_pretrained(str(run_dir))
    ema_file = Path(checkpoint) / "unet_ema" / "diffusion_pytorch_model.safetensors"  # EMAModel.save_pretrained's folder
    if ema and ema_file.exists():
        pipe.unet.load_state_dict(load_file(str(ema_file)))
    else:
        pipe.unet.load_state_dict(load_file(str(Path(checkpoint) / "model.safetensors")))
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
