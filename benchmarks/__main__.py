"""`python -m benchmarks list` shows the suite; `python -m benchmarks run NAME [--quick] [--force]` runs one, after what it needs."""
import argparse, os, subprocess, sys, textwrap, time
from pathlib import Path

from benchmarks.registry import BENCHMARKS, SUITE, order

ROOT = Path(__file__).resolve().parents[1]


def show(b) -> str:
    needs = ", ".join([*b.needs, *([b.inputs] if b.inputs else [])]) or "nothing"
    writes = f"class_ddpm/results/{b.name}/" + (f", {b.also_writes}" if b.also_writes else "") + (f"; benchmarks/runs/{b.runs}" if b.runs else "")
    how = (f"archived ({b.archived})" if b.archived else f"python -m {b.module} {' '.join(b.args)}".rstrip()
           + (" [GPU]" if b.device == "gpu" else ""))
    wrap = lambda s: textwrap.fill(s, 118, initial_indent="    ", subsequent_indent="      ")
    return "\n".join([b.name, wrap(b.description), wrap("needs: " + needs), wrap("writes: " + writes), wrap("run: " + how)])


def run(name: str, quick: bool = False, force: bool = False, alone: bool = False, extra=()) -> int:
    steps = [name] if alone else order(name)
    for n in steps:
        b = BENCHMARKS[n]
        if n != name and b.done(quick) and not force:
            print(f"[benchmarks] {n}: already there, skipped (--force reruns it)", flush=True); continue
        if b.archived:
            if n != name and b.done(True): continue  # its committed table is what the next one reads
            print(f"[benchmarks] {n} is archived: {b.archived}", file=sys.stderr); return 2
        if b.device == "gpu" and not quick:
            import torch
            if not torch.cuda.is_available(): print(f"[benchmarks] {n} needs a CUDA GPU (--quick checks it on the CPU)", file=sys.stderr); return 2
        cmd = [sys.executable, *b.command(quick), *(extra if n == name else ())]
        print(f"[benchmarks] {n}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.time()
        rc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}).returncode
        print(f"[benchmarks] {n}: exit {rc} in {time.time() - t0:.0f} s", flush=True)
        if rc: return rc
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="every benchmark: what it needs, what it writes, how it runs")
    r = sub.add_parser("run", help="run one benchmark after what it needs")
    r.add_argument("name", choices=list(BENCHMARKS))
    r.add_argument("--quick", action="store_true", help="the check that it runs (a temporary folder, nothing committed changes)")
    r.add_argument("--force", action="store_true", help="rerun the needs even when their results exist")
    r.add_argument("--alone", action="store_true", help="run NAME only, not what it needs")
    args, extra = p.parse_known_args(argv)
    if args.cmd == "list":
        print("\n\n".join(show(b) for b in SUITE)); return 0
    return run(args.name, args.quick, args.force, args.alone, extra)


if __name__ == "__main__": sys.exit(main())
