"""Every Colab or Kaggle badge in nbs/ opens a notebook that exists, and a notebook's own badges open itself (a moved
or renamed notebook keeps stale links). The home page's lesson table links the lessons.
Usage: python .ci/badges.py  (prints each wrong link; exit status 1 if any)"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?:colab\.research\.google\.com/github|kaggle\.com/kernels/welcome\?src=https://github\.com)/[^/]+/[^/]+/blob/[^/]+/([^)\s\"]+\.ipynb)")

def wrong_links(nb: Path) -> list:
    rel = nb.relative_to(ROOT).as_posix()
    text = "".join("".join(c["source"]) for c in json.load(open(nb))["cells"] if c["cell_type"] == "markdown")
    return [f"{rel}: badge opens {p}" for p in LINK.findall(text)
            if not (ROOT/p).is_file() or (p != rel and rel != "nbs/index.ipynb")]

if __name__ == "__main__":
    problems = [p for nb in sorted((ROOT/"nbs").rglob("*.ipynb")) for p in wrong_links(nb)]
    print(*problems, sep="\n") if problems else print("badges: each opens its own notebook, the home page's open the lessons")
    sys.exit(1 if problems else 0)
