"""Run every lesson the way Colab or Kaggle opens it: alone, from the installed wheel.

Builds the wheel, installs it with its `course` extra into a fresh virtual environment (torch first), copies each
lesson by itself into an empty folder and runs it there with nbdev's notebook runner (cells marked `eval: false`
or `slow` skipped, as `nbdev_test` does). So a lesson that reads a path inside the repository, or needs something
the wheel lacks, fails here. The install cell at the top of each lesson must find the library installed, so it
installs nothing (it would need the network). Also checks that each lesson opens with its own Colab and Kaggle
badges and one install cell. Usage: python .ci/lessons_alone.py [NOTEBOOK ...]  (default: the lessons and results)
"""
import json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPO = "class-ddpm/class_ddpm"
# Packages Colab and Kaggle preinstall that the lessons' own tests use beyond the wheel's requirements.
PREINSTALLED = ["pandas", "tensorboard"]

def lessons() -> list:
    nbs = ROOT/"nbs"
    return sorted(p for p in nbs.glob("0[0-7]_*.ipynb")) + [nbs/"results.ipynb"] + sorted((nbs/"tutorials").glob("*.ipynb"))

def check_top(nb_path: Path) -> list:
    "What is wrong with the lesson's opening: its badges and its install cell."
    rel = nb_path.relative_to(ROOT).as_posix()
    cells = json.load(open(nb_path))["cells"]
    text = lambda c: "".join(c["source"])
    problems = []
    for site, url in (("Colab", f"colab.research.google.com/github/{REPO}/blob/main/{rel}"),
                      ("Kaggle", f"kaggle.com/kernels/welcome?src=https://github.com/{REPO}/blob/main/{rel}")):
        if not any(url in text(c) for c in cells[:3] if c["cell_type"] == "markdown"): problems.append(f"no {site} badge for {rel}")
    installs = [c for c in cells if c["cell_type"] == "code" and f"git+https://github.com/{REPO}" in text(c)]
    if len(installs) != 1: problems.append(f"{len(installs)} install cells (want 1)")
    elif cells.index(installs[0]) > 3: problems.append("the install cell is not at the top")
    return problems

CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # nothing of the checkout leaks in

def sh(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=CLEAN_ENV, **kw)

def make_env(work: Path) -> Path:
    "A fresh virtual environment with torch and the wheel built from this checkout: what a Colab reader installs."
    dist = work/"dist"
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT))
    wheel = next(dist.glob("class_ddpm-*.whl"))
    env = work/"venv"
    sh(sys.executable, "-m", "venv", str(env))
    py = env/"bin"/"python"
    index = ["--index-url", os.environ["CI_TORCH_INDEX"]] if os.environ.get("CI_TORCH_INDEX") else []
    sh(str(py), "-m", "pip", "install", "-q", "torch==2.13.0", *index)  # the CPU build (see .ci/run)
    sh(str(py), "-m", "pip", "install", "-q", f"{wheel}[course]", *PREINSTALLED)
    return py

RUN = """import sys
from pathlib import Path
from nbdev.test import test_nb
ok, secs = test_nb(Path(sys.argv[1]), skip_flags=["slow"])
print(f"{secs:.0f} s")
sys.exit(0 if ok else 1)
"""

def run_alone(py: Path, nb_path: Path, work: Path):
    "Copy the lesson alone into an empty folder and run it there; (ok, seconds, output tail)."
    folder = Path(tempfile.mkdtemp(prefix=nb_path.stem + "_", dir=work))
    (folder/nb_path.name).write_bytes(nb_path.read_bytes())
    env = dict(CLEAN_ENV)
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    t = time.time()
    r = subprocess.run([str(py), "-c", RUN, nb_path.name], cwd=folder, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode == 0, time.time() - t, r.stdout[-3000:]

def main(argv):
    nbs = [Path(a).resolve() for a in argv] or lessons()
    failed = 0
    for p in nbs:
        for problem in check_top(p): print(f"FAIL top of {p.name}: {problem}"); failed += 1
    runnable = [p for p in nbs if not (p.parent/".notest").exists()]  # tutorials need a GPU and a download
    with tempfile.TemporaryDirectory(prefix="lessons_alone_") as w:
        work = Path(w)
        t = time.time()
        try: py = make_env(work)
        except subprocess.CalledProcessError as e: print(e.stdout[-3000:]); print("FAIL: building the wheel environment"); return 1
        print(f"wheel and fresh environment: {time.time() - t:.0f} s")
        with ThreadPoolExecutor(2) as ex:  # two at once, one torch thread each, as nbdev_test runs them
            for p, (ok, secs, out) in zip(runnable, ex.map(lambda p: run_alone(py, p, work), runnable)):
                print(f"{'ok  ' if ok else 'FAIL'} {p.relative_to(ROOT)} alone: {secs:.0f} s")
                if not ok: print(out); failed += 1
    print(f"lessons alone: {len(runnable)} run, {failed} problems")
    return 1 if failed else 0

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))
