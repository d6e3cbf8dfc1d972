"""Benchmark 1, side by side: the time-to-quality curves of runs of `time_to_quality.py` (by default the default,
v + Min-SNR-5 with an EMA of power 0.5 on the nano UNet for 1300 steps, and the four before it: the same with the
original's EMA power 0.75, v + no weighting on the same UNet and steps, and the tiny UNet for 1500 and for 1000 steps) on one plot: accuracy and the Frechet ratio (to the real-vs-real floor at the
same n) against wall time, without guidance and at each run's saved guidance. Reads results/NAME/NAME.csv, trains nothing.

    python -m benchmarks.time_to_quality_compare          # class_ddpm/results/time_to_quality_compare/
    python -m benchmarks.time_to_quality_compare --quick  # the same into a temporary folder
"""
import csv

import numpy as np

from benchmarks.common import FIDELITY_NOTE, RESULTS, parse_value, parser, ratio_axis, result_dir, setup, write_results

RUNS = {"time_to_quality": "default (v + Min-SNR-5, EMA power 0.5, nano, 1300 steps)",
        "time_to_quality_ema075": "previous default (v + Min-SNR-5, EMA power 0.75)",
        "time_to_quality_none": "default before it (v + none, nano, 1300 steps)",
        "time_to_quality_1500steps": "earlier default (tiny, 1500 steps)",
        "time_to_quality_1000steps": "first default (tiny, 1000 steps)"}
# Runs of the same UNet and batch cost the same per step, so one idle run's clock times them all: the weighting and the
# EMA's length change what a step learns, not what it costs. (The nano runs were trained on machines of different speeds.)
NANO_CLOCK = "time_to_quality_compare/nano_clock"  # the README command's 230 s run on the slowest machine measured
CLOCKS = {k: NANO_CLOCK for k in ("time_to_quality", "time_to_quality_ema075", "time_to_quality_none")}
# Which machine each default curve's clock comes from (the committed CSVs'): the default --note
MACHINES = ("Machines: the nano curves are on one clock, `nano_clock.csv`: the README command's run on the slowest idle "
            "2-core AMD EPYC machine measured (230 s of training loop, 5.7 steps per second); the same UNet and batch cost "
            "the same per step whatever the weighting or the EMA's length. The default's own run was trained on a faster "
            "machine (147 s of training loop, 8.8 steps per second; that clock is wall_s in time_to_quality.csv). "
            "The tiny curves' wall times come from another idle AMD EPYC virtual machine, where tiny ran 3.2 steps per "
            "second; nano runs about 1.9 times the steps per second of tiny on one machine (defaults_search), so the two "
            "clocks agree within about 10%.")


def saved_guidance(row: dict) -> float:
    "The guidance a run saved: the one other than 1 among its `accuracy_g*` columns (1 if there is none)."
    return max(float(k.split("_g")[1]) for k in row if k.startswith("accuracy_g"))


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=list(RUNS), help="tables to compare (results/NAME/NAME.csv)")
    p.add_argument("--clock", nargs="*", default=[f"{k}={v}" for k, v in CLOCKS.items()], metavar="NAME=REF",
                   help="time NAME's steps on REF's clock (its wall time at each step, interpolated): for runs of the same "
                        "UNet and batch timed on different days")
    p.add_argument("--name", default="time_to_quality_compare")
    p.add_argument("--note", default=MACHINES, help="a paragraph added to the notes (default: which machine each default curve's "
                                                    "wall times come from; give your own for other runs)")
    args = p.parse_args(argv)
    d = setup(args)  # the curves are read from the committed tables; --quick writes the comparison to a temporary folder
    def read(name):  # a table NAME, or a file FOLDER/STEM of the results
        path = RESULTS / (f"{name}.csv" if "/" in name else f"{name}/{name}.csv")
        with open(path) as f: return [{k: parse_value(v) for k, v in r.items()} for r in csv.DictReader(f)]
    curves = {name: read(name) for name in args.runs}
    clocks = dict(c.split("=") for c in args.clock)
    for name, ref in clocks.items():
        if name not in curves: continue
        ref_rows = read(ref)
        steps, secs = np.array([r["step"] for r in ref_rows], float), np.array([r["wall_s"] for r in ref_rows], float)
        for r in curves[name]: r["wall_s"] = float(np.interp(r["step"], steps, secs))
    label = lambda name: RUNS.get(name, name)
    rows = []
    for name, rs in curves.items():
        g = saved_guidance(rs[0])
        for r in rs:
            rows.append(dict(run=label(name), step=int(r["step"]), wall_min=r["wall_s"] / 60, accuracy_g1=r["accuracy_g1"],
                             ratio_g1=r["ratio_g1"], guidance=g, accuracy_saved=r[f"accuracy_g{g:g}"],
                             ratio_saved=r[f"ratio_g{g:g}"], n=int(r["n_g1"]), floor=r["floor_g1"]))
    n, floor = rows[0]["n"], rows[0]["floor"]
    at = lambda r: (f"g=1: {r['accuracy_g1']:.1%}, {r['ratio_g1']:.2f}x; saved g={r['guidance']:g}: "
                    f"{r['accuracy_saved']:.1%}, {r['ratio_saved']:.2f}x")
    lines = []
    for name in curves:
        rs = [r for r in rows if r["run"] == label(name)]
        e = rs[-1]
        lines.append(f"- {label(name)}: after {e['wall_min']:.1f} min (step {e['step']}), {at(e)}")
        w = max((r for r in rs if r["wall_min"] <= 5), key=lambda r: r["wall_min"], default=None)  # the 5-minute budget
        if w is not e: lines.append(f"  - within 5 minutes: " + (f"step {w['step']} ({w['wall_min']:.1f} min), {at(w)}" if w else "no judged point"))
    timed = {}  # clock -> the runs put on it
    for k, v in clocks.items():
        if k in curves: timed.setdefault(v, []).append(label(k))
    clock_note = "".join(f" The wall times of {'; '.join(ks)} are those of " + (f"{label(v)}'s run" if v in RUNS else f"the clock in results/{v}.csv")
                         + " at the same steps (the same UNet and batch, so the same cost per step)." for v, ks in timed.items())
    notes = (f"Each point is a checkpoint's EMA weights sampled with the saved sampler (SDE-DPM-Solver++ 20), 50 per digit "
             f"(n = {n}; real-vs-real floor {floor:.3g}), without guidance (g=1: like with like) and at the guidance each run saved "
             f"when it was measured (see each run's md). Wall time is "
             f"that of the same model and batch trained on the idle 2-core machine (see each run's md).{clock_note}\n\n"
             + "\n".join(lines) + (f"\n\n{args.note}" if args.note else "") + "\n\n" + FIDELITY_NOTE)
    cols = ["run", "step", "wall_min", "accuracy_g1", "ratio_g1", "guidance", "accuracy_saved", "ratio_saved"]
    write_results(d, args.name, rows, cols, "Benchmark 1: time to quality of the default beside earlier defaults", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, color in zip(curves, ("C0", "C1", "C3", "C2", "C7")):
        rs = [r for r in rows if r["run"] == label(name)]
        x = [r["wall_min"] for r in rs]
        for key, st, g in (("g1", "--", 1), ("saved", "-", rs[0]["guidance"])):
            axs[0].plot(x, [100 * r[f"accuracy_{key}"] for r in rs], "o" + st, color=color, ms=4, label=f"{label(name)}, g={g:g}")
            axs[1].plot(x, [r[f"ratio_{key}"] for r in rs], "s" + st, color=color, ms=4, label=f"{label(name)}, g={g:g}")
    axs[0].axhline(98, color="grey", ls=":", lw=1); axs[0].set_ylabel("judge accuracy (%)")
    ratio_axis(axs[1]); axs[1].axhline(1.5, color="grey", ls="--", lw=1)
    for ax in axs: ax.set_xlabel("wall time (minutes, idle 2-core machine)")
    axs[0].legend(fontsize=6); axs[1].set_title("dashed: the 1.5x target; dotted: the floor", fontsize=8)
    fig.suptitle(f"accuracy (goal 98%) and Frechet distance over its real-vs-real floor at n={n}", fontsize=9)
    plt.tight_layout(); fig.savefig(result_dir(d, args.name) / f"{args.name}.png", dpi=100)
    print(f"wrote {result_dir(d, args.name) / (args.name + '.png')}")


if __name__ == "__main__": main()
