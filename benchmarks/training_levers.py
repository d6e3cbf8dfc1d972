"""Training levers (issue 27): post-hoc EMA and EDM preconditioning with log-normal noise levels, against the saved
default, on the default digits training (`class_ddpm_train` with no flags: nano UNet, 1,300 steps, v + Min-SNR-5, EMA).

- **Post-hoc EMA** (Karras et al. 2024, "Analyzing and improving the training dynamics of diffusion models", section 3):
  besides the run's own EMA, the training keeps two power-function averages of the weights (relative widths 0.05 and
  0.10 of the training so far) and saves both every 65 steps. After training, the average of any width is rebuilt as the
  least-squares mix of those snapshots, so the width is chosen by measuring, not guessed before training. The run itself
  is the default (the same seed gives the same weights, checked), so its cost is the bookkeeping, timed apart.
- **EDM** (Karras et al. 2022, "Elucidating the design space of diffusion-based generative models"): noise levels sigma
  drawn log-normally (ln sigma ~ N(-1.2, 1.2^2)) instead of uniform timesteps; the UNet sees c_in(sigma) x and the noise
  level as 0.25 ln sigma, and its output F makes the clean image D = c_skip x + c_out F (sigma_data the paper's 0.5, or
  the training images' own sd in a second variant); the loss is
  EDM's weighting lambda(sigma) |D - x0|^2. The preconditioning is diffusers' own `EDMDPMSolverMultistepScheduler`'s,
  called by the training step, and the same scheduler samples (SDE-DPM-Solver++, 20 steps, sigma 80 to 0.002, x0 clipped
  to [-1, 1] by its thresholding with sample_max_value 1), so training and sampling cannot disagree about it.

Each lever is trained on seeds 0-2 with the default recipe otherwise, a post-hoc run and an EDM run side by side (one
torch thread each), so their wall times compare on the same machine at the same load. Each setting is sampled 50 per digit
(n = 500) for 5 draws (noise seeds 0-4) and judged by `class_ddpm.metrics.judge_pipeline` (accuracy; the whitened and the
unwhitened Frechet ratio over their real-vs-real floors at the same n), as `benchmarks.guidance_levers` judges the
default, whose rows it reuses when the post-hoc run's weights are the default run's, bit for bit.

    python -m benchmarks.training_levers            # trains (or reuses) benchmarks/runs/training_levers/{phema,edm}-seedS
    python -m benchmarks.training_levers --quick    # a check that it runs (20-step trainings, n = 20, a temporary folder)
"""
import functools, hashlib, json, time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import RUNS, judge, load_1m, quality, result_dir, setup, write_results
from benchmarks.guidance_levers import COLUMNS, TARGET_ACCURACY, TARGET_RATIO, lever_parser, load_rows, save_row, summarise
from class_ddpm.assets import results_table
from class_ddpm.config import TrainConfig

PHEMA_WIDTHS = (0.05, 0.10)  # the two averages kept during training (the paper's)
SNAPSHOT_EVERY = 65          # steps between snapshots: 20 of each average in the default 1,300 steps
EDM = dict(p_mean=-1.2, p_std=1.2, sigma_data=0.5)  # the paper's values for pixel-space images in [-1, 1]


# --- post-hoc EMA: power-function averages and their least-squares mix ----------------------------------------------------
# Written here because neither diffusers nor accelerate has it (diffusers' `EMAModel` keeps one average, chosen before
# training). A power-function average at step t weighs the weights of step tau <= t by (g + 1) tau^g / t^(g + 1).

def width_of(g):
    "Relative width (sd of the weighting over [0, t], over t) of the power-function average with exponent g."
    g = np.asarray(g, dtype=np.float64)
    return np.sqrt((g + 1) / ((g + 2) ** 2 * (g + 3)))


def exponent_of(width: float) -> float:
    "The exponent g whose power-function average has relative width `width` (the largest root of the cubic width_of(g) = width)."
    r = 1 / width ** 2  # (g + 2)^2 (g + 3) = r (g + 1), expanded
    return float(max(np.roots([1, 7, 16 - r, 12 - r]).real))


def overlap(t_a, g_a, t_b, g_b):
    """The inner product of two power-function weightings (steps t_a, t_b; exponents g_a, g_b): the integral over tau of
    their product, which is over [0, min(t_a, t_b)]; arrays broadcast."""
    t_a, g_a, t_b, g_b = (np.asarray(v, dtype=np.float64) for v in (t_a, g_a, t_b, g_b))
    lo, hi = np.minimum(t_a, t_b), np.maximum(t_a, t_b)
    g_hi = np.where(t_a >= t_b, g_a, g_b)  # the longer average's exponent: its weighting at lo is (lo / hi)^g_hi
    return (g_a + 1) * (g_b + 1) / ((g_a + g_b + 1) * hi) * (lo / hi) ** g_hi


def posthoc_mix(steps, widths, target_step: int, target_width: float) -> np.ndarray:
    """Coefficients (summing to 1) of the snapshots (their steps and widths) whose mix is closest, in least squares, to the
    power-function average of width `target_width` at `target_step`."""
    t, g = np.asarray(steps, np.float64), np.array([exponent_of(w) for w in widths])
    gram = overlap(t[:, None], g[:, None], t[None, :], g[None, :])
    rhs = overlap(t, g, target_step, exponent_of(target_width))
    x = np.linalg.solve(gram, rhs)
    return x / x.sum()


class PowerAverages:
    "Power-function averages of `named` parameters (one per width), updated after each optimizer step; snapshots every `every` steps."
    def __init__(self, named, widths=PHEMA_WIDTHS, every=SNAPSHOT_EVERY, folder=None):
        self.names = [n for n, _ in named]
        self.widths, self.every, self.folder, self.step, self.seconds = widths, every, folder, 0, 0.0
        self.exponents = [exponent_of(w) for w in widths]
        self.averages = [[p.detach().float().clone() for _, p in named] for _ in widths]
        self.snapshots = []  # (step, width, file)

    @torch.no_grad()
    def update(self, params):
        start = time.perf_counter()
        self.step += 1
        for g, avg in zip(self.exponents, self.averages):
            keep = (1 - 1 / self.step) ** (g + 1)  # 0 at step 1: the average starts as the weights
            torch._foreach_lerp_(avg, [p.detach().float() for p in params], 1 - keep)
        if self.step % self.every == 0: self.save()
        self.seconds += time.perf_counter() - start

    def save(self):
        from safetensors.torch import save_file
        for w, avg in zip(self.widths, self.averages):
            f = self.folder / f"average-{w:.3f}-step{self.step:06d}.safetensors"
            save_file({n: a.contiguous() for n, a in zip(self.names, avg)}, str(f))
            self.snapshots.append((self.step, w, f.name))


def snapshots_of(run: Path) -> list:
    "(step, width, path) of a post-hoc run's saved snapshots."
    out = []
    for f in sorted((run / "phema").glob("average-*.safetensors")):
        _, w, s = f.stem.split("-")
        out.append((int(s.removeprefix("step")), float(w), f))
    return out


def posthoc_weights(run: Path, width: float, step=None) -> dict:
    "The post-hoc average of `width` at `step` (default: the last snapshot's), rebuilt from the run's snapshots."
    from safetensors.torch import load_file
    snaps = snapshots_of(run)
    step = step or max(s for s, _, _ in snaps)
    snaps = [x for x in snaps if x[0] <= step]
    mix = posthoc_mix([s for s, _, _ in snaps], [w for _, w, _ in snaps], step, width)
    out = None
    for c, (_, _, f) in zip(mix, snaps):
        sd = load_file(str(f))
        out = {k: c * v.double() for k, v in sd.items()} if out is None else {k: out[k] + c * sd[k].double() for k in out}
    return {k: v.float() for k, v in out.items()}


# --- EDM: the training step -----------------------------------------------------------------------------------------

def edm_scheduler(sigma_data: float = EDM["sigma_data"], **kw):
    "diffusers' EDM sampler: SDE-DPM-Solver++ (2nd order), x0 clipped to [-1, 1] (thresholding that never widens past 1)."
    from diffusers import EDMDPMSolverMultistepScheduler
    return EDMDPMSolverMultistepScheduler(sigma_data=sigma_data, algorithm_type="sde-dpmsolver++", solver_order=2,
                                          thresholding=True, sample_max_value=1.0, **kw)


def edm_step(unet, clean, labels, generator, noise_scheduler, config, null_label, *, precond):
    """`class_ddpm.training.training_step`'s contract with EDM's noise levels, preconditioning and loss weighting (the flip
    and the class dropout as there; `noise_scheduler` is unused: the noise levels are continuous; `precond`: the
    `edm_scheduler` whose preconditioning the samples will use)."""
    n, dev = len(clean), clean.device
    if config.random_flip:
        flip = torch.rand(n, generator=generator, device=dev) < 0.5
        clean = torch.where(flip[:, None, None, None], clean.flip(-1), clean)
    if config.class_dropout_prob > 0:
        drop = torch.rand(n, generator=generator, device=dev) < config.class_dropout_prob
        labels = torch.where(drop, torch.full_like(labels, null_label), labels)
    noise = torch.randn(clean.shape, generator=generator, device=dev)
    sigma = (EDM["p_mean"] + EDM["p_std"] * torch.randn(n, generator=generator, device=dev)).exp()
    s = sigma[:, None, None, None]
    x = clean + s * noise
    out = unet(precond.precondition_inputs(x, s), precond.precondition_noise(sigma), class_labels=labels).sample
    denoised = precond.precondition_outputs(x, out.float(), s)
    sd = precond.config.sigma_data
    weight = (s ** 2 + sd ** 2) / (s * sd) ** 2  # lambda(sigma): the loss of F is then unweighted
    return (weight * (denoised - clean) ** 2).mean()


# --- training -------------------------------------------------------------------------------------------------------------

def weights_sha(run: Path) -> str:
    return hashlib.sha256((run / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()).hexdigest()


def train_lever(run: Path, seed: int, lever: str, steps=None, quick: bool = False) -> dict:
    "The default digits training (seed `seed`) with `lever` (\"phema\" or \"edm\"); its wall time in run/timing.json."
    timing = run / "timing.json"
    if timing.exists(): return json.loads(timing.read_text())
    from class_ddpm.run_loop import finish, set_up, train_loop
    from class_ddpm.training import training_step
    config = TrainConfig(output_dir=str(run), overwrite_output_dir=True, seed=seed)
    if steps: config.max_train_steps = steps
    if quick: config.num_images_per_class = 1
    load, start = load_1m(), time.time()
    r = set_up(config)
    extra = {}
    if lever == "phema":
        (run / "phema").mkdir(exist_ok=True)
        averages = PowerAverages(list(r.unwrapped().named_parameters()), every=5 if quick else SNAPSHOT_EVERY, folder=run / "phema")
        ema_step = r.ema.step
        def step_both(parameters):  # the run's own EMA first, exactly as without the averages, then the two averages
            parameters = list(parameters)
            ema_step(parameters)
            averages.update(parameters)
        r.ema.step = step_both
        train_loop(r, step=training_step)
        extra = dict(bookkeeping_s=averages.seconds, snapshots=len(averages.snapshots))
    elif lever in ("edm", "edm-data"):  # sigma_data: the paper's 0.5, or the sd of this run's training images in [-1, 1]
        sd = EDM["sigma_data"] if lever == "edm" else float(r.data.images.double().div(127.5).sub(1).std())
        (run / "edm.json").write_text(json.dumps(dict(sigma_data=sd)) + "\n")
        train_loop(r, step=functools.partial(edm_step, precond=edm_scheduler(sd)))
        extra = dict(sigma_data=sd)
    else: raise ValueError(f"unknown lever {lever!r}")
    finish(r)
    t = dict(seed=seed, lever=lever, wall_s=time.time() - start, load_1m_start=load, load_1m_end=load_1m(),
             threads=torch.get_num_threads(), **extra)
    timing.write_text(json.dumps(t) + "\n")
    return t


# --- the settings -------------------------------------------------------------------------------------------------------

def setting(spec: str) -> dict:
    "`none` / `cfg:S` (the default run), `phema:W:S` (post-hoc average of width W, guidance S), `edm:S`, `edmdata:S` (sigma_data the data's sd)."
    kind, *v = spec.split(":")
    f = [float(x) for x in v]
    if kind == "none": return dict(spec=spec, name="no guidance", lever="none", scale=1.0)
    if kind == "cfg": return dict(spec=spec, name=f"CFG {f[0]:g}", lever="cfg", scale=f[0])
    if kind == "phema": return dict(spec=spec, name=f"post-hoc EMA {f[0]:g}, {f[1]:g}", lever=f"post-hoc EMA, width {f[0]:g}",
                                    scale=f[1], width=f[0])
    if kind == "edm": return dict(spec=spec, name=f"EDM, {f[0]:g}", lever="EDM", scale=f[0])
    if kind == "edmdata": return dict(spec=spec, name=f"EDM, data's sd, {f[0]:g}", lever="EDM, sigma_data = the digits' own sd", scale=f[0])
    raise ValueError(f"unknown setting {spec!r}")


PLAN = ["none", "cfg:1.15", "cfg:1.25", "phema:0.05:1.15", "phema:0.1:1", "phema:0.1:1.15", "phema:0.1:1.25", "phema:0.2:1.15",
        "edm:1", "edm:1.15", "edm:1.25", "edm:1.5", "edmdata:1", "edmdata:1.15", "edmdata:1.25", "edmdata:1.5"]  # the table: the widths chosen by SCAN, EDM up to 99% of the asked digits
SCAN = ["phema:0.02:1.15", "phema:0.03:1.15", "phema:0.15:1.15", "phema:0.3:1.15"]  # seed 0, draw 0: to choose the table's


def pipeline_for(s: dict, runs: Path, seed: int):
    "The pipeline that draws setting `s` for training seed `seed`."
    from class_ddpm.pipeline import ClassConditionalPipeline
    lever = {"EDM": "edm", "EDM, sigma_data = the digits' own sd": "edm-data"}.get(s["lever"], "phema")  # none, cfg: the default run as saved
    run = runs / f"{lever}-seed{seed}"
    pipe = ClassConditionalPipeline.from_pretrained(str(run))
    if "width" in s: pipe.unet.load_state_dict(posthoc_weights(run, s["width"]))
    if lever != "phema":  # the sigma_data it was trained with (runs without edm.json: the paper's)
        pipe.scheduler = edm_scheduler(json.loads((run / "edm.json").read_text())["sigma_data"] if (run / "edm.json").exists() else EDM["sigma_data"])
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def check_posthoc(run: Path):
    "Asserts: the mix reproduces a snapshot asked for its own step and width, and a width between the two kept lies between them."
    from safetensors.torch import load_file
    snaps = snapshots_of(run)
    last = max(s for s, _, _ in snaps)
    for w in PHEMA_WIDTHS:
        f = next(p for s, ww, p in snaps if s == last and ww == w)
        kept, rebuilt = load_file(str(f)), posthoc_weights(run, w)
        assert max(float((kept[k] - rebuilt[k]).abs().max()) for k in kept) < 1e-4, f"width {w} at step {last} must rebuild its own snapshot"
    mix = posthoc_mix([s for s, _, _ in snaps], [w for _, w, _ in snaps], last, 0.07)
    assert abs(mix.sum() - 1) < 1e-9
    assert abs(float(width_of(exponent_of(0.07))) - 0.07) < 1e-9
    return "post-hoc checks: each kept average at the last step rebuilt from the snapshots to within 1e-4; exponent_of inverts width_of"


def plot(summary: list, path: Path, n: int, seeds: int, draws: int, others: list = (), title: str = "Training levers"):
    """Accuracy against both ratios, one line per lever across its guidance scales (this benchmark's rows; with `others`, the
    guidance levers' table measured on the same default runs, seeds and draws, dashed: every lever's frontier in one plot)."""
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
    fig, axs = plt.subplots(1, 2, figsize=(13.5 if others else 11, 4.6), sharey=True)
    groups = {}
    for r in list(summary) + [r for r in others if r["lever"] not in ("none", "cfg")]:
        label = "default recipe, CFG (1 = none)" if r["lever"] in ("none", "cfg") else r["lever"]
        groups.setdefault(label, []).append(r)
    for ax, key, view in ((axs[0], "ratio", "whitened (the project's measure)"), (axs[1], "ratio_unwhitened", "unwhitened (40 components)")):
        for k, (label, rs) in enumerate(groups.items()):
            rs = sorted(rs, key=lambda r: float(r["scale"]))
            mine = any(r in summary for r in rs)
            ax.errorbar([r[key] for r in rs], [100 * r["accuracy"] for r in rs], xerr=[r[key + "_sd"] for r in rs],
                        yerr=[100 * r["accuracy_sd"] for r in rs], fmt="o-" if mine else "s--", ms=4, capsize=2,
                        lw=2 if mine else 1, color=f"C{k % 10}", label=label, alpha=1 if mine else 0.6)
            if mine or not others:
                for r in rs: ax.annotate(f"{float(r['scale']):g}", (r[key], 100 * r["accuracy"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(100 * TARGET_ACCURACY, color="grey", ls="--", lw=1); ax.axvline(TARGET_RATIO, color="grey", ls="--", lw=1)
        ax.axvline(1, color="grey", ls=":", lw=1)
        ax.set_xscale("log"); ax.set_xlabel(f"Frechet / real-vs-real floor at n={n} (log)"); ax.set_title(view, fontsize=9)
        lo, hi = ax.get_xlim()
        ax.set_xticks([v for v in (1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3) if lo <= v <= hi]); ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axs[0].set_ylabel("digits judge accuracy (%)")
    if others: axs[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    else: axs[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{title} on the default digits recipe: accuracy against fidelity, mean of {seeds} training seeds x {draws} "
                 f"draws of n={n}\n(" + ("solid: levers that change training; dashed: guidance levers; " if others else "")
                 + f"bars: sd of the seed means; numbers: guidance scale;\ntarget: >= {TARGET_ACCURACY:.0%} at <= {TARGET_RATIO:.2f}x, "
                 f"above and left of the dashed lines; dotted: the floor)", fontsize=9)
    plt.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


# --- main -----------------------------------------------------------------------------------------------------------------

def main(argv=None):
    p = lever_parser(__doc__.split("\n\n")[0], PLAN, "training_levers")
    p.add_argument("--train", choices=["phema", "edm", "edm-data"], nargs="+", default=None, help="train (or find) these levers' runs and stop")
    p.add_argument("--reverse", action="store_true", help="settings in reverse order (a second process meets the first halfway)")
    args = p.parse_args(argv)
    d = setup(args)
    runs = (d / "runs") if args.quick else RUNS / "training_levers"
    seeds, draws, npc = ([0], 1, 2) if args.quick else (args.seeds, args.draws, args.n_per_class)
    quick = dict(steps=20, quick=True) if args.quick else {}
    if args.train or args.quick:
        for lever in (args.train or ["phema", "edm", "edm-data"]):
            for s in seeds: print(lever, s, train_lever(runs / f"{lever}-seed{s}", s, lever, **quick), flush=True)
        if args.train: return
    plan = [setting(x) for x in args.plan]
    store = runs / "rows.json"
    default_rows = RUNS / "guidance_levers" / "rows.json"
    same = {s: not args.quick and (RUNS / "guidance_levers" / f"seed{s}").exists()
            and weights_sha(runs / f"phema-seed{s}") == weights_sha(RUNS / "guidance_levers" / f"seed{s}") for s in seeds}
    for s in seeds: print(f"seed {s}: the post-hoc run's pipeline weights are the default run's, bit for bit: {same[s]}", flush=True)
    checks = check_posthoc(runs / f"phema-seed{seeds[0]}"); print(checks, flush=True)
    if not args.report:
        from class_ddpm.metrics import DigitsJudge
        from class_ddpm.metrics import judge_pipeline
        jd = DigitsJudge(seed=0, epochs=2) if args.quick else judge()
        todo = [s for s in plan if args.only is None or s["spec"] in args.only]
        for s in (reversed(todo) if args.reverse else todo):
            for seed in seeds:
                pipe = None
                for draw in range(draws):
                    key = (seed, s["spec"], draw)
                    if any((r["seed"], r.get("spec"), r["draw"]) == key for r in load_rows(store)): continue
                    if s["lever"] in ("none", "cfg") and same[seed]:  # the default run's rows, measured by guidance_levers
                        old = [r for r in load_rows(default_rows) if (r["seed"], r.get("spec"), r["draw"]) == key]
                        if old: save_row(store, dict(old[0], reused_from="guidance_levers")); continue
                    pipe = pipe or pipeline_for(s, runs, seed)
                    kw = dict(clip_denoised=False) if s["lever"].startswith("EDM") else {}  # the EDM sampler clips x0 itself
                    r = judge_pipeline(pipe, jd, n_per_class=npc, seed=draw, guidance_scale=s["scale"], num_inference_steps=20, **kw)
                    row = dict(seed=seed, spec=s["spec"], setting=s["name"], lever=s["lever"], scale=s["scale"], draw=draw, **quality(r), load_1m=load_1m())
                    save_row(store, row)
                    print(f"seed {seed} draw {draw} {s['name']}: {row['accuracy']:.1%}, {row['ratio']:.2f}x / {row['ratio_unwhitened']:.2f}x", flush=True)
    rows = load_rows(store)
    summary = summarise(rows, plan, seeds, draws)
    if not summary: print("nothing measured in full yet"); return
    n = summary[0]["n"]
    timings = {(lv, s): json.loads((runs / f"{lv}-seed{s}" / "timing.json").read_text()) for lv in ("phema", "edm", "edm-data") for s in seeds
               if (runs / f"{lv}-seed{s}" / "timing.json").exists()}
    t = "; ".join(f"seed {s}: post-hoc {timings[('phema', s)]['wall_s']:.0f} s (of which the averages {timings[('phema', s)]['bookkeeping_s']:.1f} s), "
                  f"EDM {timings[('edm', s)]['wall_s']:.0f} s (load {timings[('edm', s)]['load_1m_start']} -> {timings[('edm', s)]['load_1m_end']})"
                  + (f"; EDM with the data's sd {timings[('edm-data', s)]['wall_s']:.0f} s (trained later, beside other work)" if ("edm-data", s) in timings else "")
                  for s in seeds if ("phema", s) in timings and ("edm", s) in timings)
    scan = [r for r in rows if r["seed"] == min(seeds) and r["draw"] == 0 and r.get("spec") in SCAN]
    from class_ddpm.assets import markdown_table
    scan_table = markdown_table([dict(setting=r["setting"], accuracy=r["accuracy"], ratio=r["ratio"], ratio_unwhitened=r["ratio_unwhitened"],
                                      recall=r["recall"]) for r in sorted(scan, key=lambda r: SCAN.index(r["spec"]))],
                                ["setting", "accuracy", "ratio", "ratio_unwhitened", "recall"]) if scan else ""
    best = [r for r in summary if r["meets_target"]]
    notes = (f"{len(seeds)} training seeds x {draws} draws of {npc} images per digit (n = {n}), 20 sampling steps. Floors (real-vs-real, "
             f"{n} held-out real digits, mean of 5 draws): whitened {summary[0]['floor']:.3g}, unwhitened {summary[0]['floor_unwhitened']:.3g}. "
             f"`_sd`: the sd of the {len(seeds)} seed means. Default rows (no guidance, CFG): the default run, judged by guidance_levers "
             f"and reused where the post-hoc run's weights equal it bit for bit ({sum(same.values())} of {len(seeds)} seeds). Post-hoc EMA "
             f"of width w: the least-squares mix of {len(snapshots_of(runs / f'phema-seed{seeds[0]}'))} snapshots (two averages of widths "
             f"{', '.join(f'{w:g}' for w in PHEMA_WIDTHS)}, every {SNAPSHOT_EVERY} steps) rebuilding the power-function average of width w at "
             f"the last step, sampled with the saved sampler. EDM: ln sigma ~ N({EDM['p_mean']}, {EDM['p_std']}^2), sigma_data "
             f"{EDM['sigma_data']} (the paper's) or, for `EDM, data's sd`, the sd of the training images in [-1, 1] ("
             + ", ".join(sorted({f"{v['sigma_data']:.3f}" for (lv, _), v in timings.items() if lv == "edm-data"}) or ["not trained"])
             + f"), diffusers' EDMDPMSolverMultistepScheduler (SDE-DPM-Solver++, Karras sigmas 80 to 0.002) for both the "
             f"preconditioning in training and the sampling. {checks}. Training wall times (side by side, one torch thread each, the "
             f"shared 2-core machine): {t}.\n\nTarget (>= {TARGET_ACCURACY:.0%} at <= {TARGET_RATIO:.2f}x on both measures): "
             + (", ".join(f"{r['setting']}" for r in best) + " meet it." if best else "no setting meets it.")
             + (f"\n\nSettings tried once to choose the table's (seed {min(seeds)}, draw 0 only, n = {n}; the same floors):\n\n{scan_table}" if scan_table else ""))
    (result_dir(d, args.name) / f"{args.name}_draws.json").write_text(json.dumps(rows, indent=0) + "\n")
    write_results(d, args.name, summary, COLUMNS, "Training levers: post-hoc EMA and EDM preconditioning with log-normal noise levels", notes)
    others = [] if args.quick else [r for r in results_table("guidance_levers") if r["seeds"] == len(seeds) and r["draws"] == len(seeds) * draws]
    plot(summary, result_dir(d, args.name) / f"{args.name}.png", n, len(seeds), draws)
    if others: plot(summary, result_dir(d, args.name) / "levers_frontier.png", n, len(seeds), draws, others, title="Every lever")
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}")
    return summary


if __name__ == "__main__": main()
