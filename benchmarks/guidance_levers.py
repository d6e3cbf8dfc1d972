"""Guidance levers (issue 27): autoguidance (by an early checkpoint of the same run, or by a smaller UNet trained
alongside) and guidance limited to an interval of noise levels, against the saved default (classifier-free guidance at the saved 1.15) and no guidance, on the default digits training.

Three trainings of the default (`class_ddpm_train` with no flags: nano UNet, 1,300 steps, v + Min-SNR-5, EMA), seeds
0-2, each keeping every checkpoint (every 260 steps) with its EMA weights. Each lever is a small `torch.nn.Module` that
stands in for the pipeline's UNet, so the pipeline itself is unchanged: under guidance the pipeline calls its UNet once
per step on the batch doubled, [x, x] with labels [class, null], and combines the halves as
`uncond + s * (cond - uncond)`; the stand-in decides what the second half is.

- **Autoguidance** (Karras et al. 2024, "Guiding a diffusion model with a bad version of itself"): the second half is
  a weaker model, the same run's early EMA checkpoint (step 260 or 520), run *with the real class labels*, so guidance
  pushes away from what the weak model gets wrong instead of away from the unconditional model.
- **Autoguidance by a smaller UNet trained alongside** (the same paper's other weak model): a UNet with fewer channels
  (`small:8-16-32:S`: 8, 16 and 32 against nano's 16, 32 and 64), trained with the default recipe on the same seed, its EMA
  weights run on the second half with the real class labels. It costs a second, cheaper training.
- **Guidance in an interval** (Kynkaanniemi et al. 2024, "Applying guidance in a limited interval improves sample and
  distribution quality"): classifier-free guidance only at the steps whose noise level sigma = sqrt((1 - alpha_bar) /
  alpha_bar) lies in (lo, hi]; outside it both halves are the conditional output, so that step is unguided.

Every setting is sampled with the saved sampler (SDE-DPM-Solver++, 20 steps) from the final EMA weights, 50 images per
digit (n = 500) for each of 5 draws (noise seeds 0-4), and judged by `class_ddpm.metrics.judge_pipeline`: the digits
judge's accuracy, and both views of fidelity (the whitened ratio and the unwhitened one), each over its real-vs-real
floor at the same n. Target (issue 27): at least 99% of the asked digits at no more than 1.10x on both measures, on the
mean of 3 training seeds and 5 draws.

    python -m benchmarks.guidance_levers            # full run: trains (or reuses) benchmarks/runs/guidance_levers/seedS
    python -m benchmarks.guidance_levers --quick    # a check that it runs (a 20-step training, n = 20, a temporary folder)

Measured rows are kept in RUNS/guidance_levers/rows.json (one per seed, setting and draw), so a stopped run goes on
where it stopped and `--only` measures settings added to `--plan`. EDM preconditioning and post-hoc EMA change the
training itself: `benchmarks.training_levers` measures them on the same seeds and draws.
"""
import contextlib, json, math, sys, time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import RUNS, judge, load_1m, markdown_table, parser, quality, result_dir, setup, write_results
from class_ddpm.metrics import judge_pipeline
from class_ddpm.training import TrainConfig, train

TARGET_ACCURACY, TARGET_RATIO = 0.99, 1.10  # issue 27: both measures


# --- the stand-in UNet ----------------------------------------------------------------------------------------------

class GuidedUNet(torch.nn.Module):
    """Stands in for a pipeline's UNet under classifier-free guidance. The pipeline calls it on [x, x] with labels
    [class, null] and forms `second + s * (first - second)`. `guide`: a weaker model run on the second half with the real
    class labels (autoguidance); None: the unconditional output, as the pipeline does. `interval` (lo, hi): guide only where
    the step's noise level sigma lies in (lo, hi]; elsewhere both halves are the conditional output (no guidance)."""
    def __init__(self, unet, guide=None, interval=None, alphas_cumprod=None):
        super().__init__()
        self.unet, self.guide, self.interval = unet, guide, interval
        if interval is not None and alphas_cumprod is None: raise ValueError("an interval needs the schedule's alphas_cumprod")
        self.alphas_cumprod = alphas_cumprod
        self.guided_steps = []  # sigma of each step, and whether it was guided (for the checks)

    config = property(lambda self: self.unet.config)
    dtype = property(lambda self: self.unet.dtype)
    device = property(lambda self: self.unet.device)

    def sigma(self, t) -> float:
        ab = float(self.alphas_cumprod[int(t)])
        return math.sqrt((1 - ab) / ab)

    def forward(self, x, t, class_labels):
        from diffusers.models.unets.unet_2d import UNet2DOutput
        b = len(x) // 2
        guided = self.interval is None or self.interval[0] < self.sigma(t) <= self.interval[1]
        self.guided_steps.append(guided)
        if guided and self.guide is None: return self.unet(x, t, class_labels=class_labels)  # exactly the pipeline's CFG call
        cond = self.unet(x[:b], t, class_labels=class_labels[:b]).sample  # exactly the pipeline's unguided call
        second = self.guide(x[b:], t, class_labels=class_labels[:b]).sample if guided else cond
        return UNet2DOutput(sample=torch.cat([cond, second]))


@contextlib.contextmanager
def unet_replaced(pipe, module):
    "The pipeline calls `module` as its UNet inside the block; it is not registered, so the pipeline's config is untouched."
    saved = pipe.unet
    object.__setattr__(pipe, "unet", module)
    try: yield pipe
    finally: object.__setattr__(pipe, "unet", saved)


# --- the settings -----------------------------------------------------------------------------------------------------

def setting(spec: str) -> dict:
    """A setting from its spec: `none`, `cfg:S` (classifier-free guidance at S), `auto:STEP:S` (autoguidance by the EMA
    weights of checkpoint STEP at S), `interval:LO:HI:S` (CFG at S where LO < sigma <= HI; HI may be inf), or
    `auto_interval:STEP:LO:HI:S` (autoguidance only in the interval), or `small:C1-C2-C3:S` (autoguidance by a UNet with
    those channels, trained alongside)."""
    kind, *v = spec.split(":")
    f = [float(x) for x in v] if kind != "small" else []
    if kind == "none": return dict(spec=spec, name="no guidance", lever="none", scale=1.0)
    if kind == "cfg": return dict(spec=spec, name=f"CFG {f[0]:g}", lever="cfg", scale=f[0])
    if kind == "auto": return dict(spec=spec, name=f"auto, step {int(f[0])}, {f[1]:g}", lever=f"autoguidance (step {int(f[0])})",
                                   scale=f[1], weak_step=int(f[0]))
    if kind == "interval": return dict(spec=spec, name=f"CFG in ({f[0]:g}, {f[1]:g}], {f[2]:g}", lever=f"CFG for sigma in ({f[0]:g}, {f[1]:g}]",
                                       scale=f[2], interval=(f[0], f[1]))
    if kind == "auto_interval": return dict(spec=spec, name=f"auto, step {int(f[0])}, in ({f[1]:g}, {f[2]:g}], {f[3]:g}",
                                            lever=f"autoguidance (step {int(f[0])}) for sigma in ({f[1]:g}, {f[2]:g}]",
                                            scale=f[3], weak_step=int(f[0]), interval=(f[1], f[2]))
    if kind == "small":
        ch = v[0]
        return dict(spec=spec, name=f"auto, small UNet {ch}, {float(v[1]):g}", lever=f"autoguidance (UNet {ch}, trained alongside)",
                    scale=float(v[1]), guide_channels=ch)
    raise ValueError(f"unknown setting {spec!r}")


PLAN = ["none", "cfg:1.15", "cfg:1.25", "interval:0.3:2.5:1.5", "auto:260:1.5", "auto:520:1.25", "auto:260:1.25", "auto:520:1.5",
        "auto:260:2", "interval:0.3:2.5:2", "auto:520:2", "interval:0.3:2.5:3", "small:8-16-32:1.25", "small:8-16-32:1.5", "small:8-16-32:2"]  # the table, most important first
SCAN = ["interval:1:inf:1.5", "interval:1:inf:2", "interval:2.5:inf:2", "interval:2.5:inf:3", "auto:780:2", "auto:1040:2",
        "auto:1040:3"]  # measured once (seed 0, draw 0) to choose the table's settings; shown beside it


def load_weak(run: Path, step: int):
    "The EMA weights of the run's checkpoint at `step` as a UNet (safetensors and JSON only)."
    from diffusers import UNet2DModel
    m = UNet2DModel.from_pretrained(str(run / f"checkpoint-{step}" / "unet_ema")).eval()
    return m.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def train_guide(run: Path, seed: int, channels: str, steps=None, quick: bool = False) -> dict:
    """The default digits recipe on a UNet with `channels` ("8-16-32": nano's layout with fewer channels), seed `seed`:
    the weaker model autoguidance pushes away from. Its wall time in run/timing.json."""
    timing = run / "timing.json"
    if timing.exists(): return json.loads(timing.read_text())
    from class_ddpm.unet import conditional_unet
    ch = tuple(int(c) for c in channels.split("-"))
    run.mkdir(parents=True, exist_ok=True)
    cfg = run.parent / f"unet-{channels}"  # a folder with the UNet's config.json, as --model_config_name_or_path takes it
    conditional_unet(10, 16, in_channels=1, preset="nano", block_out_channels=ch, norm_num_groups=min(8, ch[0])).save_config(str(cfg))
    config = TrainConfig(output_dir=str(run), overwrite_output_dir=True, seed=seed, model_config_name_or_path=str(cfg),
                         checkpointing_steps=100_000)
    if steps: config.max_train_steps = steps
    if quick: config.num_images_per_class = 1
    load, start = load_1m(), time.time()
    train(config)
    t = dict(seed=seed, channels=channels, wall_s=time.time() - start, load_1m_start=load, load_1m_end=load_1m(), threads=torch.get_num_threads())
    timing.write_text(json.dumps(t) + "\n")
    return t


def load_guide(run: Path):
    "A trained guide's saved UNet (its EMA weights; safetensors and JSON only)."
    from diffusers import UNet2DModel
    m = UNet2DModel.from_pretrained(str(run / "unet")).eval()
    return m.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def stand_in(pipe, setting: dict, weak: dict, guides: dict = {}):
    "The module the pipeline calls for `setting`, or None for the pipeline's own UNet."
    if setting["lever"] in ("none", "cfg"): return None
    if "guide_channels" in setting: return GuidedUNet(pipe.unet, guide=guides[setting["guide_channels"]])
    return GuidedUNet(pipe.unet, guide=weak[setting["weak_step"]] if "weak_step" in setting else None,
                      interval=setting.get("interval"), alphas_cumprod=pipe.scheduler.alphas_cumprod)


# --- training ---------------------------------------------------------------------------------------------------------

def train_run(run: Path, seed: int, every: int = 260, steps=None, quick: bool = False) -> dict:
    "The default digits training (seed `seed`), a checkpoint every `every` steps, all kept; its wall time in run/timing.json."
    timing = run / "timing.json"
    if timing.exists(): return json.loads(timing.read_text())
    config = TrainConfig(output_dir=str(run), overwrite_output_dir=True, seed=seed, checkpointing_steps=every,
                         checkpoints_total_limit=None)
    if steps: config.max_train_steps = steps
    if quick: config.num_images_per_class = 1
    load, start = load_1m(), time.time()
    train(config)
    t = dict(seed=seed, wall_s=time.time() - start, load_1m_start=load, load_1m_end=load_1m(), threads=torch.get_num_threads())
    timing.write_text(json.dumps(t) + "\n")
    return t


# --- the checks: each stand-in against what it must equal, bit for bit --------------------------------------------------

def check_stand_ins(pipe, weak_step_model, n_per_class: int = 2, steps: int = 6):
    "Asserts: an empty interval and autoguidance with weak = strong are no guidance; an interval holding every step is plain CFG."
    def draw(g, module=None):
        with unet_replaced(pipe, module) if module is not None else contextlib.nullcontext():
            return pipe(list(range(10)), num_images_per_class=n_per_class, guidance_scale=g, num_inference_steps=steps,
                        generator=torch.Generator().manual_seed(0), output_type="pt").images
    ac = pipe.scheduler.alphas_cumprod
    unguided, cfg = draw(1.0), draw(2.0)
    nothing = GuidedUNet(pipe.unet, interval=(0.0, 0.0), alphas_cumprod=ac)
    assert torch.equal(draw(2.0, nothing), unguided) and not any(nothing.guided_steps), "an empty interval must be no guidance"
    everything = GuidedUNet(pipe.unet, interval=(0.0, math.inf), alphas_cumprod=ac)
    assert torch.equal(draw(2.0, everything), cfg) and all(everything.guided_steps), "an interval of every step must be plain CFG"
    same = GuidedUNet(pipe.unet, guide=pipe.unet)
    assert torch.equal(draw(2.0, same), unguided), "autoguidance by the model itself must be no guidance"
    auto = draw(2.0, GuidedUNet(pipe.unet, guide=weak_step_model))
    assert not torch.equal(auto, unguided) and not torch.equal(auto, cfg), "autoguidance by a weaker model must change the images"
    middle = GuidedUNet(pipe.unet, interval=(0.3, 2.5), alphas_cumprod=ac)
    draw(2.0, middle)
    assert 0 < sum(middle.guided_steps) < steps, "the middle interval must guide some steps, not all"
    assert pipe.config["unet"] == ("diffusers", "UNet2DModel"), "the stand-in must leave the pipeline's config alone"
    return "stand-ins checked: empty interval == no guidance and autoguidance by itself == no guidance, bit for bit; " \
           "an interval of every step == CFG, bit for bit"


def load_rows(store: Path) -> list:
    return json.loads(store.read_text()) if store.exists() else []


def save_row(store: Path, row: dict):
    "Add `row` to the store, under a lock, re-reading it first: several processes may judge at once (one seed each)."
    import fcntl
    with open(store.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [r for r in load_rows(store) if (r["seed"], r.get("spec"), r["draw"]) != (row["seed"], row["spec"], row["draw"])]
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows + [row], indent=0)); tmp.replace(store)


# --- the table ----------------------------------------------------------------------------------------------------------

MEASURES = ("accuracy", "worst_digit_accuracy", "ratio", "ratio_unwhitened", "precision", "recall", "seconds_per_image")


def summarise(rows: list, plan: list, seeds, draws: int, partial: bool = False) -> list:
    """Per setting: the mean over seeds x draws, the spread (sd of the seed means, and the range of the seed means); only the
    settings measured in full, or (`partial`) only those measured in part."""
    out = []
    for s in plan:
        mine = [r for r in rows if r.get("spec", r["setting"]) == s["spec"] and r["seed"] in seeds and r["draw"] < draws]
        if not mine or (len(mine) < len(seeds) * draws) != partial: continue
        row = dict(setting=s["name"], lever=s["lever"], scale=s["scale"], seeds=len({r["seed"] for r in mine}),
                   draws=len(mine), n=mine[0]["n"], floor=mine[0]["floor"], floor_unwhitened=mine[0]["floor_unwhitened"])
        for m in MEASURES:
            by_seed = [np.mean([r[m] for r in mine if r["seed"] == sd]) for sd in sorted({r["seed"] for r in mine})]
            row[m] = float(np.mean([r[m] for r in mine]))
            row[m + "_sd"] = float(np.std(by_seed, ddof=1)) if len(by_seed) > 1 else 0.0  # the seeds' spread
            row[m + "_min"], row[m + "_max"] = float(min(by_seed)), float(max(by_seed))
        row["_by_seed"] = {m: {sd: float(np.mean([r[m] for r in mine if r["seed"] == sd])) for sd in {r["seed"] for r in mine}}
                           for m in ("accuracy", "ratio", "ratio_unwhitened")}
        row["meets_target"] = bool(row["accuracy"] >= TARGET_ACCURACY and row["ratio"] <= TARGET_RATIO
                                   and row["ratio_unwhitened"] <= TARGET_RATIO)
        out.append(row)
    base = next((r for r in out if r["lever"] == "none"), None)
    b = base["_by_seed"] if base else None
    for row in out:  # paired with no guidance, seed by seed (the same training run and the same noise draws)
        by = row.pop("_by_seed")
        if b is None or row is base: continue
        common = sorted(set(by["ratio"]) & set(b["ratio"]))
        row["seeds_more_accurate_than_none"] = sum(by["accuracy"][k] > b["accuracy"][k] for k in common)
        row["seeds_ratio_below_none"] = sum(by["ratio"][k] < b["ratio"][k] for k in common)
        row["seeds_unwhitened_below_none"] = sum(by["ratio_unwhitened"][k] < b["ratio_unwhitened"][k] for k in common)
    return out


def plot(summary: list, path: Path, n: int, seeds: int, draws: int):
    import matplotlib; matplotlib.use("Agg"); import matplotlib.patches, matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    levers = list(dict.fromkeys(r["lever"] for r in summary))
    for ax, key, title in ((axs[0], "ratio", "whitened (the project's measure)"), (axs[1], "ratio_unwhitened", "unwhitened PCA-40")):
        for k, lever in enumerate(levers):
            rs = sorted([r for r in summary if r["lever"] == lever], key=lambda r: r["scale"])
            if lever in ("none", "cfg"): rs = sorted([r for r in summary if r["lever"] in ("none", "cfg")], key=lambda r: r["scale"])
            if lever == "none": continue
            ax.errorbar([r[key] for r in rs], [100 * r["accuracy"] for r in rs], xerr=[r[key + "_sd"] for r in rs],
                        yerr=[100 * r["accuracy_sd"] for r in rs], fmt="o-", ms=4, capsize=2, color=f"C{k}",
                        label="classifier-free guidance (1 = none)" if lever == "cfg" else lever)
            for r in rs: ax.annotate(f"{r['scale']:g}", (r[key], 100 * r["accuracy"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(100 * TARGET_ACCURACY, color="grey", ls="--", lw=1); ax.axvline(TARGET_RATIO, color="grey", ls="--", lw=1)
        ax.axvline(1, color="grey", ls=":", lw=1)
        lo_x, lo_y = ax.get_xlim()[0], ax.get_ylim()[1]
        ax.add_patch(matplotlib.patches.Rectangle((min(lo_x, 0.95), 100 * TARGET_ACCURACY), TARGET_RATIO - min(lo_x, 0.95),
                                                  max(lo_y, 100.2) - 100 * TARGET_ACCURACY, color="0.85", lw=0, zorder=0))
        ax.set_xscale("log"); ax.set_xlabel(f"Frechet / real-vs-real floor at n={n} (log)"); ax.set_title(title, fontsize=9)
        from matplotlib.ticker import FuncFormatter
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}")); ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axs[0].set_ylabel("digits judge accuracy (%)"); axs[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Guidance levers on the default digits model: accuracy against fidelity, mean of {seeds} training seed(s) x {draws} "
                 f"draw(s) of n={n}\n(bars: sd of the seed means; numbers: guidance scale; target: the grey corner, "
                 f">= {TARGET_ACCURACY:.0%} at <= {TARGET_RATIO:.2f}x; dotted: the floor)", fontsize=9)
    plt.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


# --- shared with benchmarks.training_levers: the flags and the table's columns ------------------------------------------

COLUMNS = ["setting", "accuracy", "accuracy_sd", "worst_digit_accuracy", "ratio", "ratio_sd", "ratio_unwhitened",
           "ratio_unwhitened_sd", "recall", "n", "floor", "floor_unwhitened", "seeds", "draws", "seeds_more_accurate_than_none",
           "seeds_ratio_below_none", "seeds_unwhitened_below_none", "meets_target"]


def lever_parser(description: str, plan: list, name: str):
    "The flags of a levers benchmark: training seeds, draws, images per digit, the plan of settings, --only, --report, --name."
    p = parser(description)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    p.add_argument("--draws", type=int, default=5, help="sampling draws (noise seeds 0..draws-1) per training seed and setting")
    p.add_argument("--n_per_class", type=int, default=50, help="images per digit in each draw")
    p.add_argument("--plan", nargs="+", default=plan, help="the settings of the table, as specs (see `setting`)")
    p.add_argument("--only", nargs="+", default=None, help="measure only these specs now (the table shows every spec of --plan measured)")
    p.add_argument("--report", action="store_true", help="judge nothing: write the table and plot from the rows measured so far")
    p.add_argument("--name", default=name)
    return p


# --- main -----------------------------------------------------------------------------------------------------------------

def main(argv=None):
    p = lever_parser(__doc__.split("\n\n")[0], PLAN, "guidance_levers")
    p.add_argument("--train_only", action="store_true", help="train (or find) the runs and stop")
    p.add_argument("--reverse", action="store_true", help="draws in reverse order (a second process on the same settings meets the first halfway)")
    args = p.parse_args(argv)
    d = setup(args)
    runs = (d / "runs") if args.quick else RUNS / "guidance_levers"
    seeds, draws, npc = ([0], 1, 2) if args.quick else (args.seeds, args.draws, args.n_per_class)
    if args.quick: args.plan = [p.replace(":260:", ":10:").replace(":520:", ":10:") for p in args.plan]
    plan = [setting(x) for x in args.plan]
    weak_steps = sorted({s["weak_step"] for s in plan if "weak_step" in s} | ({10} if args.quick else {260}))
    if args.report:  # never trains: a run still training has no timing.json yet
        timings = {s: json.loads((runs / f"seed{s}" / "timing.json").read_text()) for s in seeds if (runs / f"seed{s}" / "timing.json").exists()}
    else: timings = {s: train_run(runs / f"seed{s}", s, **(dict(every=10, steps=20, quick=True) if args.quick else {})) for s in seeds}
    for s, t in timings.items(): print(f"seed {s}: training {t['wall_s']:.0f} s (load {t['load_1m_start']} -> {t['load_1m_end']})", flush=True)
    guide_channels = sorted({s["guide_channels"] for s in plan if "guide_channels" in s})
    guide_run = lambda seed, ch: runs / f"seed{seed}-guide-{ch}"
    guide_timings = {(s, ch): (json.loads((guide_run(s, ch) / "timing.json").read_text()) if args.report else
                               train_guide(guide_run(s, ch), s, ch, **(dict(steps=20, quick=True) if args.quick else {})))
                     for s in seeds for ch in guide_channels if not args.report or (guide_run(s, ch) / "timing.json").exists()}
    for (s, ch), t in guide_timings.items(): print(f"seed {s}: guide {ch} training {t['wall_s']:.0f} s", flush=True)
    if args.train_only: return
    todo = [s for s in plan if args.only is None or s["spec"] in args.only]
    store = runs / "rows.json"
    done = {(r["seed"], r.get("spec"), r["draw"]) for r in load_rows(store)}
    from class_ddpm.metrics import DigitsJudge
    from class_ddpm.pipeline import ClassConditionalPipeline
    jd = DigitsJudge(seed=0, epochs=2) if args.quick else judge()
    checks = None
    for seed in (list(timings)[:1] if args.report else seeds):
        run = runs / f"seed{seed}"
        pipe = ClassConditionalPipeline.from_pretrained(str(run)).to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        pipe.set_progress_bar_config(disable=True)
        weak = {w: load_weak(run, w) for w in weak_steps}
        guides = {ch: load_guide(guide_run(seed, ch)) for ch in guide_channels if not args.report}
        if checks is None:
            checks = check_stand_ins(pipe, weak[min(weak)]); print(checks, flush=True)
            pipe.scheduler.set_timesteps(pipe.default_num_inference_steps)
            sigmas = [GuidedUNet(pipe.unet, interval=(0, 0), alphas_cumprod=pipe.scheduler.alphas_cumprod).sigma(t) for t in pipe.scheduler.timesteps]
        if args.report: break
        for s in todo:
            for draw in (reversed(range(draws)) if args.reverse else range(draws)):
                if (seed, s["spec"], draw) in done or any((r["seed"], r.get("spec"), r["draw"]) == (seed, s["spec"], draw)
                                                          for r in load_rows(store)): continue  # (another process may have done it)
                module = stand_in(pipe, s, weak, guides)
                with unet_replaced(pipe, module) if module is not None else contextlib.nullcontext():
                    r = judge_pipeline(pipe, jd, n_per_class=npc, seed=draw, guidance_scale=s["scale"])
                row = dict(seed=seed, spec=s["spec"], setting=s["name"], lever=s["lever"], scale=s["scale"], draw=draw, **quality(r), load_1m=load_1m())
                if module is not None and module.interval is not None: row["guided_share"] = float(np.mean(module.guided_steps))
                save_row(store, row)
                print(f"seed {seed} draw {draw} {s['name']}: {row['accuracy']:.1%}, {row['ratio']:.2f}x / {row['ratio_unwhitened']:.2f}x", flush=True)
    rows = load_rows(store)
    summary = summarise(rows, plan, seeds, draws)
    n = summary[0]["n"]
    part = summarise(rows, plan, seeds, draws, partial=True)
    table_rows = [r for r in rows if r.get("spec") in {s["spec"] for s in plan if s["name"] in {x["setting"] for x in summary}}
                  and r["seed"] in seeds and r["draw"] < draws]
    draw_sd = {m: float(np.sqrt(np.mean([np.var([r[m] for r in table_rows if (r["seed"], r["spec"]) == k], ddof=1)
                                         for k in {(r["seed"], r["spec"]) for r in table_rows}]))) if draws > 1 else float("nan")
               for m in ("accuracy", "ratio", "ratio_unwhitened")}
    missing = [s["name"] for s in plan if s["name"] not in {r["setting"] for r in summary + part}]
    part_table = markdown_table(part, ["setting", "seeds", "draws", "accuracy", "ratio", "ratio_unwhitened", "recall"]) if part else ""
    scan = [r for r in rows if r["seed"] == min(seeds) and r["draw"] == 0 and r.get("spec") in SCAN]
    scan_table = markdown_table([dict(setting=r["setting"], accuracy=r["accuracy"], ratio=r["ratio"], ratio_unwhitened=r["ratio_unwhitened"],
                                      recall=r["recall"]) for r in sorted(scan, key=lambda r: SCAN.index(r["spec"]))],
                                ["setting", "accuracy", "ratio", "ratio_unwhitened", "recall"]) if scan else ""
    best = [r for r in summary if r["meets_target"]]
    close = min(summary, key=lambda r: max(r["ratio"], r["ratio_unwhitened"]) if r["accuracy"] >= TARGET_ACCURACY else math.inf)
    t = "; ".join(f"seed {s} {v['wall_s']:.0f} s (1-minute load {v['load_1m_start']} at the start, {v['load_1m_end']} at the end, "
                  f"{v.get('threads', '?')} torch threads)" for s, v in timings.items())
    if guide_timings: t += ". The smaller guides' trainings (the same recipe and seed): " + "; ".join(
        f"seed {s}, channels {ch}: {v['wall_s']:.0f} s (load {v['load_1m_start']} -> {v['load_1m_end']})" for (s, ch), v in guide_timings.items())
    notes = (f"{len(seeds)} training seeds x {draws} draws of {npc} images per digit (n = {n}), SDE-DPM-Solver++ 20 (the saved sampler), "
             f"final EMA weights. Floors (real-vs-real, {n} held-out real digits, random draws, mean of 5): whitened "
             f"{summary[0]['floor']:.3g}, unwhitened {summary[0]['floor_unwhitened']:.3g}. `_sd`: the sd of the {len(seeds)} seed "
             f"means (each the mean of {draws} draws); `_min`/`_max` in the CSV: the lowest and highest seed mean; `seeds_..._none`: in how many of the "
             f"{len(seeds)} seeds the setting's mean beats no guidance's (the same run, the same noise draws). Autoguidance: "
             f"the second half of the pipeline's doubled batch is the run's EMA weights at an early checkpoint, with the real "
             f"labels; CFG in (lo, hi]: classifier-free guidance only at the steps whose sigma lies there (the sampler's "
             f"{len(sigmas)} steps have sigma {', '.join(f'{x:.3g}' for x in sigmas)}"
             + "".join(f"; ({lo:g}, {hi:g}] holds {sum(lo < x <= hi for x in sigmas)} of them" for lo, hi in
                       dict.fromkeys(s["interval"] for s in plan if "interval" in s)) + f"). {checks}. Training wall times (the default run, a checkpoint every "
             f"{10 if args.quick else 260} steps, all kept; on the shared 2-core machine, beside other jobs): {t}. "
             + " ".join((runs / f"seed{s}" / "provenance.txt").read_text().strip() for s in seeds if (runs / f"seed{s}" / "provenance.txt").exists())
             + f"\n\nTarget (>= {TARGET_ACCURACY:.0%} at <= {TARGET_RATIO:.2f}x on both measures): "
             + (", ".join(f"{r['setting']} ({r['accuracy']:.1%}, {r['ratio']:.2f}x, {r['ratio_unwhitened']:.2f}x)" for r in best)
                + " meet it." if best else "no setting meets it. ")
             + (f"Closest with at least {TARGET_ACCURACY:.0%}: {close['setting']}, {close['accuracy']:.1%} at {close['ratio']:.2f}x "
                f"(whitened) and {close['ratio_unwhitened']:.2f}x (unwhitened)." if close["accuracy"] >= TARGET_ACCURACY else "")
             + (f"\n\nMeasured in part only (fewer seeds or draws than the table, so not comparable with it; the mean of "
                f"what there is, at n = {n}, the same floors):\n\n{part_table}" if part_table else "")
             + (f"\n\nNot measured: {', '.join(missing)}." if missing else "")
             + (f"\n\nSettings tried once to choose the table's (seed {min(seeds)}, draw 0 only, n = {n}; the same floors; "
                f"over the table's settings, one draw's accuracy has an sd of {draw_sd['accuracy']:.1%} about its seed's mean, its ratio "
                f"{draw_sd['ratio']:.2f} and its unwhitened ratio {draw_sd['ratio_unwhitened']:.2f}):\n\n{scan_table}" if scan_table else "")
             + "\n\nEDM preconditioning and post-hoc EMA change the training itself: training_levers measures them.")
    (result_dir(d, args.name) / f"{args.name}_draws.json").write_text(json.dumps(rows, indent=0) + "\n")
    write_results(d, args.name, summary, COLUMNS, "Guidance levers: autoguidance (an early checkpoint, or a smaller UNet trained alongside) and guidance in an interval", notes)
    plot(summary, result_dir(d, args.name) / f"{args.name}.png", n, len(seeds), draws)
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}")
    return summary


if __name__ == "__main__": main()
