"""The benchmark suite: every table in `class_ddpm/results/`, the module and arguments that make it, and what it needs
first. `python -m benchmarks list` prints it; `python -m benchmarks run NAME` runs NAME after whatever it needs.

A need is met when its table exists and, for a full run, the trained runs it leaves (`runs`) exist too (the quick forms
train their own tiny models). An archived table is the result of an earlier default whose model or code is gone: it is
kept and read, and a rerun cannot make it.
"""
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import RESULTS, RUNS

MODEL = "the committed model, class_ddpm/models/digits (train_digits' run, copied there)"


@dataclass(frozen=True)
class Benchmark:
    name: str                  # the table: class_ddpm/results/NAME/NAME.{csv,md,png}
    module: str                # run as `python -m MODULE ARGS`
    description: str
    args: tuple = ()           # the full run's arguments
    needs: tuple = ()          # benchmarks run first (their tables, and their runs for a full run)
    inputs: str = ""           # what else it reads
    runs: str = ""             # trained runs it leaves under benchmarks/runs/ for others
    also_writes: str = ""      # files outside its results folder
    quick: tuple = ("--quick",)  # the arguments of the check that it runs (seconds to a minute, a temporary folder)
    device: str = "cpu"        # "gpu": the full run needs a CUDA GPU
    archived: str = ""         # why a rerun cannot make it (empty: it can)

    @property
    def folder(self) -> Path: return RESULTS / self.name

    def done(self, quick: bool = False) -> bool:
        "Its table exists (and, for a full run, the runs it leaves)."
        return (self.folder / f"{self.name}.csv").exists() and (quick or not self.runs or (RUNS / self.runs).exists())

    def command(self, quick: bool = False) -> list:
        return ["-m", self.module, *(self.quick if quick else self.args)]


def _archived(name, module, description, why):
    return Benchmark(name, module, description, archived=why)


TINY_DEFAULT = "the tiny-UNet default of an earlier release; its model is not kept"
SUITE = [
    # speed
    Benchmark("throughput", "benchmarks.throughput", "training images/s at batch 64: tiny 16 px and cifar10 32 px, fp32 and bf16, "
              "channels_last off and on"),
    Benchmark("train_throughput", "benchmarks.train_throughput", "training images/s of train() against the original script's "
              "loop (benchmarks/original_loop.py), in alternation, on the CPU"),
    Benchmark("gpu", "benchmarks.gpu", "on one GPU: images/s and peak memory of the original loop and of train() in fp32/fp16/bf16, "
              "with and without compile, two presets and batches; sized to 5 minutes", device="gpu"),
    Benchmark("gpu_compile_tiny", "benchmarks.gpu", "gpu's tiny preset at batch 128 with every precision compiled, in a run of its own",
              args=("--presets", "tiny", "--batches", "128", "--budget_s", "200", "--name", "gpu_compile_tiny"), device="gpu"),
    Benchmark("scaling", "benchmarks.scaling", "images/s of class_ddpm_train with 1 and 2 processes (torchrun, gloo) at one global batch",
              args=("--two_threads",)),
    Benchmark("lesson_times", "benchmarks.lesson_times", "each lesson run alone, top to bottom, tests included (goal: under 2 minutes)"),
    # the defaults
    Benchmark("train_digits", "benchmarks.train_digits", "the README's training command timed and its pipeline judged (and its loss log and progress GIF shipped for lesson 04); its run "
              "becomes class_ddpm/models/digits (copied by hand, with its model card)", runs="train_digits"),
    Benchmark("time_to_quality", "benchmarks.time_to_quality", "the default training's checkpoints judged against steps and wall "
              "time (goal: 98% and 1.5x the floor within 5 minutes), on train_digits' clock",
              args=("--every", "260", "--wall_from", "benchmarks/runs/train_digits"), needs=("train_digits",), runs="digits-default"),
    Benchmark("time_to_quality_ema075", "benchmarks.time_to_quality", "time_to_quality of the default with the original's EMA "
              "power 0.75 (defaults_search's v_min_snr)",
              args=("--candidate", "v_min_snr", "--steps", "1300", "--every", "260", "--name", "time_to_quality_ema075")),
    Benchmark("time_to_quality_none", "benchmarks.time_to_quality", "time_to_quality of v with no weighting on the default UNet "
              "(defaults_search's unet16-32-64)",
              args=("--candidate", "unet16-32-64", "--steps", "1300", "--every", "260", "--name", "time_to_quality_none")),
    _archived("time_to_quality_1500steps", "benchmarks.time_to_quality", "time_to_quality of the tiny UNet for 1,500 steps", TINY_DEFAULT),
    _archived("time_to_quality_1000steps", "benchmarks.time_to_quality", "time_to_quality of the tiny UNet for 1,000 steps", TINY_DEFAULT),
    Benchmark("time_to_quality_compare", "benchmarks.time_to_quality_compare", "the time-to-quality curves side by side, on one "
              "clock (time_to_quality_compare/nano_clock.csv); trains nothing",
              needs=("time_to_quality", "time_to_quality_ema075", "time_to_quality_none", "time_to_quality_1500steps",
                     "time_to_quality_1000steps")),
    _archived("defaults_search", "benchmarks.defaults_search", "the first search: 8 candidates on the tiny UNet at an equal wall "
              "budget, one seed", "its candidates ran on the tiny preset, then the default; the preset is no candidate setting"),
    Benchmark("defaults_search_nano1300", "benchmarks.defaults_search", "the weighting and target on the default UNet for 1,300 steps, "
              "three seeds: v + none, v + Min-SNR-5, epsilon + Min-SNR-5",
              args=("--only", "unet16-32-64", "v_min_snr", "eps_min_snr", "--steps", "1300", "--samplers", "dpmsolver-sde",
                    "--guidances", "1", "1.1", "1.15", "1.2", "1.25", "--runs_dir", "benchmarks/runs/defaults_search_1300",
                    "--name", "defaults_search_nano1300"), runs="defaults_search_1300"),
    Benchmark("defaults_search_ema", "benchmarks.defaults_search", "the EMA's length on the default (power 0.5, 0.75, 0.9), five seeds",
              args=("--only", "v_min_snr", "v_min_snr_ema0.5", "v_min_snr_ema0.9", "--seeds", "0", "1", "2", "3", "4",
                    "--steps", "1300", "--samplers", "dpmsolver-sde", "--guidances", "1", "1.15", "1.25",
                    "--runs_dir", "benchmarks/runs/defaults_search_1300", "--name", "defaults_search_ema")),
    Benchmark("feature_cut", "benchmarks.feature_cut", "does the weighting's verdict depend on the fidelity measure's feature cut? "
              "defaults_search_nano1300's runs judged with 39 to 89 principal components", needs=("defaults_search_nano1300",)),
    Benchmark("guidance_frontier", "benchmarks.guidance_frontier", "accuracy against fidelity of the committed model over sampler and guidance",
              args=("class_ddpm/models/digits", "--guidances", "1", "1.1", "1.15", "1.25", "1.5", "2"), inputs=MODEL),
    _archived("guidance_frontier_none", "benchmarks.guidance_frontier", "guidance_frontier of the default before Min-SNR-5 (v, no weighting)",
              "its model, the committed model before the current one, is not kept"),
    _archived("guidance_frontier_1500steps", "benchmarks.guidance_frontier", "guidance_frontier of the tiny UNet for 1,500 steps", TINY_DEFAULT),
    _archived("guidance_frontier_1000steps", "benchmarks.guidance_frontier", "guidance_frontier of the tiny UNet for 1,000 steps", TINY_DEFAULT),
    Benchmark("readme_check", "benchmarks.readme_check", "the README's sample command on the committed model, seeds 0-4, its "
              "PNGs judged: one draw of 500 against another", args=("class_ddpm/models/digits",), inputs=MODEL),
    Benchmark("ema", "benchmarks.ema", "a run's raw weights against its EMA weights from the same checkpoint",
              args=("benchmarks/runs/train_digits",), needs=("train_digits",)),
    _archived("ema_1500steps", "benchmarks.ema", "ema of the tiny UNet for 1,500 steps", TINY_DEFAULT),
    # the loss and the sampler
    Benchmark("loss_weighting", "benchmarks.loss_weighting", "none / snr / Min-SNR-5 x epsilon / sample / v x UNet size (nano, "
              "original) at equal steps over 3 seeds"),
    Benchmark("loss_weighting_original_v", "benchmarks.loss_weighting", "loss_weighting's original UNet with v, none and Min-SNR-5, three seeds",
              args=("--sizes", "original", "--predictions", "v_prediction", "--weightings", "none", "min_snr", "--seeds", "0", "1", "2",
                    "--reference_sizes", "--name", "loss_weighting_original_v")),
    Benchmark("sampling", "benchmarks.sampling", "bad training or bad sampler? the default model and an epsilon model with DDPM, "
              "DPM-Solver++ and SDE-DPM-Solver++, x0 clipped or not", args=("--core", "--ddpm_steps", "250"),
              needs=("time_to_quality",), runs="digits-epsilon-min_snr"),
    Benchmark("label_path", "benchmarks.label_path", "lesson 01's figure: the original timestep label path against the learned class table",
              args=("--threads", "1"), also_writes="nbs/images/01_label_paths.png"),
    Benchmark("guidance_levers", "benchmarks.guidance_levers", "guidance levers (issue 27): autoguidance by an early EMA checkpoint or "
              "by a smaller UNet trained alongside, and CFG limited to an interval of noise levels, against the saved CFG, 3 "
              "training seeds x 5 draws, both fidelity measures", runs="guidance_levers"),
    Benchmark("training_levers", "benchmarks.training_levers", "training levers (issue 27): post-hoc EMA (power-function "
              "averages kept during the default training, any width rebuilt after it) and EDM preconditioning with log-normal "
              "noise levels, 3 training seeds x 5 draws, both fidelity measures, plotted with the guidance levers",
              needs=("guidance_levers",), runs="training_levers"),
    # correctness checks, beside the tests; their results ship with the others
    Benchmark("soak", "tests.soak", "20 SIGKILLs of a digits run, each resumed: nothing lost, final weights equal an unbroken run's"),
    Benchmark("gpu_check", "tests.gpu_check", "what only a GPU can check: fp16, bf16 and compile end to end, exact resume, no host "
              "sync per step (PASS/FAIL lines in gpu_check.txt)", args=("--save",), quick=("--cpu",), device="gpu"),
]
BENCHMARKS = {b.name: b for b in SUITE}


def order(name: str) -> list:
    "NAME after everything it needs, needs first (each once)."
    seen = []
    def visit(n, path=()):
        if n in path: raise ValueError(f"a cycle in the needs: {' -> '.join(path + (n,))}")
        for m in BENCHMARKS[n].needs: visit(m, path + (n,))
        if n not in seen: seen.append(n)
    visit(name)
    return seen
