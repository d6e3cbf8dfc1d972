"""How long each lesson takes: every lesson alone, top to bottom, as `nbdev_test --path` runs it (every cell, the tests
included), one after another, with torch's default threads. Goal: under 2 minutes each on 2 CPU cores.

    python -m benchmarks.lesson_times            # on an idle machine: class_ddpm/results/lesson_times/
    python -m benchmarks.lesson_times --quick    # one short notebook, into a temporary folder
"""
import os, shutil, subprocess, time
from pathlib import Path

from benchmarks.common import load_1m, parser, setup, write_results

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--lessons", nargs="+", default=None, help="notebooks to time (default: nbs/0*.ipynb)")
    args = p.parse_args(argv)
    d = setup(args)
    lessons = [Path(n) for n in args.lessons] if args.lessons else (
        [ROOT / "nbs/internals/assets.ipynb"] if args.quick else sorted((ROOT / "nbs").glob("0*.ipynb")))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS" or args.quick}  # torch's own threads, as a reader runs it
    env.update(MPLBACKEND="Agg", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    nbdev_test = shutil.which("nbdev_test") or "nbdev_test"
    rows = []
    for nb in lessons:
        load, start = load_1m(), time.time()
        ok = subprocess.run([nbdev_test, "--path", str(nb)], cwd=ROOT, env=env, capture_output=True).returncode == 0
        rows.append(dict(lesson=nb.stem, result="passed" if ok else "FAILED", seconds=round(time.time() - start, 1), load_1m_before=load))
        print(rows[-1], flush=True)
    notes = ("Each lesson alone, top to bottom (`nbdev_test --path nbs/NN_name.ipynb`, which runs every cell, the tests "
             "included), one after another, with torch's default threads. Goal: under 2 minutes each on 2 CPU cores.")
    write_results(d, "lesson_times", rows, list(rows[0]), "Lesson run times", notes)


if __name__ == "__main__": main()
