"""Benchmark 1, side by side: the time-to-quality curves of runs of `time_to_quality.py` (by default today's default,
the nano UNet for 1300 steps, and the two before it, the tiny UNet for 1500 and for 1000 steps) on one plot: accuracy and the Frechet ratio (to the
real-vs-real floor at the same n) against wall time, at each run's guidances. Reads results/NAME.csv, trains nothing.

    python benchmarks/time_to_quality_compare.py      # writes benchmarks/results/time_to_quality_compare.{csv,md,png}
"""
import csv, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIDELITY_NOTE, RESULTS, _num, ratio_axis, write_results

RUNS = {"time_to_quality": "default (nano, 1300 steps)", "time_to_quality_1500steps": "previous default (tiny, 1500 steps)",
        "time_to_quality_1000steps": "first default (tiny, 1000 steps)"}


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=list(RUNS), help="result stems to compare (results/NAME.csv)")
    p.add_argument("--name", default="time_to_quality_compare")
    p.add_argument("--note", default="", help="a paragraph added to the notes (e.g. which machine each run's wall times come from)")
    args = p.parse_args(argv)
    d = RESULTS
    curves = {}
    for name in args.runs:
        with open(d / f"{name}.csv") as f: curves[name] = [{k: _num(v) for k, v in r.items()} for r in csv.DictReader(f)]
    guidances = sorted({float(k.split("_g")[1]) for r in curves.values() for k in r[0] if k.startswith("accuracy_g")})
    rows = []
    for name, rs in curves.items():
        for r in rs:
            rows.append(dict(run=RUNS.get(name, name), step=int(r["step"]), wall_min=r["wall_s"] / 60,
                             **{f"{k}_g{g:g}": r[f"{k}_g{g:g}"] for g in guidances for k in ("accuracy", "ratio")},
                             n=int(r["n_g1"]), floor=r["floor_g1"]))
    end = {name: rs[-1] for name, rs in curves.items()}
    n, floor = rows[0]["n"], rows[0]["floor"]
    lines = [f"- {RUNS.get(name, name)}: after {e['wall_s'] / 60:.1f} min (step {int(e['step'])}), "
             + "; ".join(f"g={g:g}: accuracy {e[f'accuracy_g{g:g}']:.1%}, ratio {e[f'ratio_g{g:g}']:.2f}x" for g in guidances)
             for name, e in end.items()]
    for name, rs in curves.items():  # the 5-minute budget: the last judged point within it
        r = max((r for r in rs if r["wall_s"] <= 300), key=lambda r: r["wall_s"], default=None)
        lines.append(f"- {RUNS.get(name, name)}, within 5 minutes: " + (f"step {int(r['step'])} ({r['wall_s'] / 60:.1f} min), " + "; ".join(
            f"g={g:g}: {r[f'accuracy_g{g:g}']:.1%}, {r[f'ratio_g{g:g}']:.2f}x" for g in guidances) if r else "no judged point"))
    notes = (f"Each point is a checkpoint's EMA weights sampled with the saved sampler (SDE-DPM-Solver++ 20), 50 per digit "
             f"(n = {n}; real-vs-real floor {floor:.3g}), without guidance (g=1) and at the saved guidance. Wall time is that of "
             f"the same model and batch trained on the idle 2-core machine (see time_to_quality.md).\n\n" + "\n".join(lines)
             + (f"\n\n{args.note}" if args.note else "") + "\n\n" + FIDELITY_NOTE)
    cols = ["run", "step", "wall_min"] + [f"{k}_g{g:g}" for g in guidances for k in ("accuracy", "ratio")]
    write_results(d, args.name, rows, cols, "Benchmark 1: time to quality of today's default beside the previous ones", notes)

    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
    for (name, rs), color in zip(curves.items(), ("C0", "C3", "C2")):
        for g, st in zip(guidances, ("--", "-")):
            x = [r["wall_s"] / 60 for r in rs]
            axs[0].plot(x, [100 * r[f"accuracy_g{g:g}"] for r in rs], "o" + st, color=color, ms=4, label=f"{RUNS.get(name, name)}, g={g:g}")
            axs[1].plot(x, [r[f"ratio_g{g:g}"] for r in rs], "s" + st, color=color, ms=4, label=f"{RUNS.get(name, name)}, g={g:g}")
    axs[0].axhline(98, color="grey", ls=":", lw=1); axs[0].set_ylabel("judge accuracy (%)")
    ratio_axis(axs[1]); axs[1].axhline(1.5, color="grey", ls="--", lw=1)
    for ax in axs: ax.set_xlabel("wall time (minutes, idle 2-core machine)")
    axs[0].legend(fontsize=6); axs[1].set_title("dashed: the 1.5x target; dotted: the floor", fontsize=8)
    fig.suptitle(f"accuracy (goal 98%) and Frechet distance over its real-vs-real floor at n={n}", fontsize=9)
    plt.tight_layout(); fig.savefig(d / f"{args.name}.png", dpi=100)
    print(f"wrote {d / (args.name + '.png')}")


if __name__ == "__main__": main()
