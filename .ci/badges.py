"""Every Colab or Kaggle badge in nbs/ opens a notebook that exists, and a notebook's own badges open itself (a moved
or renamed notebook keeps stale links). The home page's lesson table links the lessons. Every file of this repository
that a notebook or the README shows through raw.githubusercontent.com (images on Colab and the docs site) exists.
Usage: python .ci/badges.py  (prints each wrong link; exit status 1 if any)"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?:colab\.research\.google\.com/github|kaggle\.com/kernels/welcome\?src=https://github\.com)/[^/]+/[^/]+/blob/[^/]+/([^)\s\"]+\.ipynb)")

RAW = re.compile(r"raw\.githubusercontent\.com/class-ddpm/class_ddpm/[^/]+/([^)\s\"']+)")

def missing_files(path: Path) -> list:
    "The repository files `path` shows by a raw.githubusercontent.com address that are not there."
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8").replace("\\n", "\n")
    return [f"{rel}: shows {p}, which does not exist" for p in sorted(set(RAW.findall(text))) if not (ROOT/p).is_file()]

def wrong_links(nb: Path) -> list:
    rel = nb.relative_to(ROOT).as_posix()
    text = "".join("".join(c["source"]) for c in json.load(open(nb))["cells"] if c["cell_type"] == "markdown")
    return [f"{rel}: badge opens {p}" for p in LINK.findall(text)
            if not (ROOT/p).is_file() or (p != rel and rel != "nbs/index.ipynb")]

if __name__ == "__main__":
    notebooks = sorted((ROOT/"nbs").rglob("*.ipynb"))
    problems = [p for nb in notebooks for p in wrong_links(nb)] + [p for f in notebooks + [ROOT/"README.md"] for p in missing_files(f)]
    print(*problems, sep="\n") if problems else print("badges: each opens its own notebook, the home page's open the lessons; every raw file shown exists")
    sys.exit(1 if problems else 0)
