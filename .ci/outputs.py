"""Stored outputs of the course's notebooks: the docs site and GitHub show what a notebook stored, they do not run it.

  python .ci/outputs.py refresh NB [NB ...]   run each notebook top to bottom (as nbdev_test does: `eval: false` cells and
                                              the export cell skipped) and store its outputs; stderr (progress bars) is
                                              dropped. Then run nbdev_clean.
  python .ci/outputs.py check [NB ...]        fail if a cell that shows something (`#| echo: false`, a plot, a display) has
                                              no stored output (default: the lessons, results and the home page)
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOWS = re.compile(r"^#\|\s*echo:\s*false|\bplt\.|\.imshow\(|\bdisplay\(|\bsay\(", re.M)

def course() -> list:
    nbs = ROOT/"nbs"
    return sorted(nbs.glob("0[0-7]_*.ipynb")) + [nbs/"results.ipynb", nbs/"index.ipynb"]

def _skipped(source: str) -> bool:
    return bool(re.search(r"^#\|\s*eval:\s*false", source, re.M)) or "nbdev_export(" in source

def refresh(path: Path):
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    nb = read_nb(path)
    shell = CaptureShell(path)
    with working_directory(path.parent):
        shell.run_all(nb, exc_stop=True, preproc=lambda c: c.cell_type != "code" or _skipped(c.source))
    for c in nb.cells:
        if c.cell_type == "code" and c.get("outputs"):
            c.outputs = [o for o in c.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    write_nb(nb, path)

def missing(path: Path) -> list:
    "The cells that should show something and stored nothing: (index, first line)."
    cells = json.load(open(path))["cells"]
    out = []
    for i, c in enumerate(cells):
        s = "".join(c["source"])
        if c["cell_type"] != "code" or _skipped(s) or re.search(r"^#\|\s*(hide|export)", s, re.M): continue
        if SHOWS.search(s) and not c.get("outputs"): out.append((i, s.splitlines()[0][:70]))
    return out

def main(argv):
    cmd, paths = (argv[0] if argv else "check"), [Path(a).resolve() for a in argv[1:]]
    if cmd == "refresh":
        for p in paths: refresh(p); print(f"stored the outputs of {p.relative_to(ROOT)}")
        return 0
    bad = 0
    for p in paths or course():
        for i, first in missing(p): print(f"FAIL {p.relative_to(ROOT)} cell {i}: shows something but stored no output ({first})"); bad += 1
    print(f"stored outputs: {bad} cells missing theirs" + (" (python .ci/outputs.py refresh NB, then nbdev_clean)" if bad else ""))
    return 1 if bad else 0

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))
