"""The teaching part of each lesson stays short: at most 1,500 words and 20 distinct numbers above "Try this".

Counts the words of the markdown cells before the lesson's "## Try this" heading, and of the Markdown that visible cells
there rendered (their stored outputs), (code spans, math, links' targets
and HTML tags left out) and the distinct numbers in them (a lesson's own number, as in "lesson 04", is a name, not a
figure). Usage: python .ci/lesson_budget.py [--report] [NOTEBOOK ...]  (default: nbs/0[0-7]_*.ipynb)
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_WORDS, MAX_NUMBERS = 1500, 20

def _prose(md: str) -> str:
    md = re.sub(r"```.*?```", " ", md, flags=re.S)                      # fenced code
    md = re.sub(r"`[^`]*`", " ", md)                                    # code spans
    md = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", md, flags=re.S)          # math
    md = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", md)                  # links and images: keep their text
    md = re.sub(r"<[^>]+>", " ", md)                                    # HTML tags
    md = re.sub(r"\b(?:lessons?|[Ll]esson)\s+\d\d(?:\s*(?:,|and|to|-)\s*\d\d)*", " ", md)  # lesson names
    return md

def teaching_part(nb_path: Path) -> str:
    "The prose of the lesson's markdown cells before its '## Try this' heading."
    out = []
    for c in json.load(open(nb_path))["cells"]:
        s = "".join(c["source"])
        if c["cell_type"] == "markdown" and re.search(r"^##\s+Try this", s, re.M): break
        if c["cell_type"] == "markdown": out.append(_prose(s))
        elif not re.search(r"^#\|\s*hide", s, re.M):  # prose a cell renders (Markdown built from a table) counts too
            out += [_prose("".join(o["data"]["text/markdown"])) for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    return "\n".join(out)

def budget(nb_path: Path):
    "(words, distinct numbers) of a lesson's teaching part."
    text = teaching_part(nb_path)
    words = len(re.findall(r"[A-Za-z0-9][\w'’.-]*", text))
    numbers = {n.replace(",", "") for n in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text)}
    return words, len(numbers), sorted(numbers, key=lambda n: float(n))

def main(argv):
    report = "--report" in argv
    nbs = [Path(a) for a in argv if a != "--report"] or sorted((ROOT/"nbs").glob("0[0-7]_*.ipynb"))
    bad = 0
    for p in nbs:
        words, n, numbers = budget(p)
        over = words > MAX_WORDS or n > MAX_NUMBERS
        bad += over
        print(f"{'OVER' if over else 'ok  '} {p.name}: {words} words, {n} distinct numbers" + (f" {numbers}" if report or over else ""))
    return 1 if bad and not report else 0

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))
