"""Soak test of crash-safe checkpoints: kill `class_ddpm_train` with SIGKILL at 20 random moments, resuming with
`--resume_from_checkpoint latest` after each, and check that nothing is lost.

A reference run trains the digits (300 steps, a checkpoint every 20, the newest 3 kept) without interruption. The
soak run is the same command, killed at a random moment (seeded) and restarted, 20 times, then left to finish.
After each kill it checks that every `checkpoint-N` left is complete and readable (safetensors and JSON parse, the
state file names step N) and that the metrics log parses; after each restart, that the run resumed from the
newest complete checkpoint there was. At the end the soak run's final weights (raw and EMA, in the last
checkpoint and in the saved pipeline) must equal the reference run's bit for bit (sha256 over the tensors), and its
metrics log must hold the reference's rows (step, epoch, loss, lr).

    python -m tests.soak            # full run (minutes): writes class_ddpm/results/soak/
    python -m tests.soak --quick    # 3 kills of a tiny run, results in a temporary folder
"""
import csv, hashlib, json, os, random, re, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

from benchmarks.common import result_dir, load_1m, parser, setup, write_results
from class_ddpm.training import EMA_FOLDER, METRICS_FILE, STATE_FILE, list_checkpoints, read_metrics

ROOT = Path(__file__).resolve().parent.parent


def command(out, steps, every, extra):
    "The `class_ddpm_train` command line (run as `python -m class_ddpm.training`, so it uses this checkout)."
    return [sys.executable, "-m", "class_ddpm.training", "--output_dir", str(out), "--max_train_steps", str(steps),
            "--checkpointing_steps", str(every), "--checkpoints_total_limit", "3", "--seed", "0", *extra]


def start(cmd, log, pause):
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "CLASS_DDPM_CHECKPOINT_PAUSE": str(pause), "PYTHONUNBUFFERED": "1"}  # the log is read while it runs
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def tensors_sha256(path) -> str:
    "sha256 over the names and bytes of the tensors of a safetensors file."
    from safetensors.torch import load_file
    h = hashlib.sha256()
    for k, v in sorted(load_file(str(path)).items()): h.update(k.encode()); h.update(v.contiguous().numpy().tobytes())
    return h.hexdigest()


def final_hashes(run) -> dict:
    last = list_checkpoints(run)[-1]
    return {"checkpoint raw": tensors_sha256(last / "model.safetensors"),
            "checkpoint EMA": tensors_sha256(last / EMA_FOLDER / "diffusion_pytorch_model.safetensors"),
            "pipeline UNet (EMA)": tensors_sha256(run / "unet" / "diffusion_pytorch_model.safetensors")}


def checkpoint_problems(run) -> list:
    "What is wrong with the complete-looking checkpoints of a run (an empty list when every one is usable)."
    from safetensors import safe_open
    bad = []
    for ck in list_checkpoints(run):
        try:
            step = int(ck.name.split("-")[1])
            if json.loads((ck / STATE_FILE).read_text())["global_step"] != step: bad.append(f"{ck.name}: wrong step")
            json.loads((ck / EMA_FOLDER / "config.json").read_text())
            for f in (ck / "model.safetensors", ck / EMA_FOLDER / "diffusion_pytorch_model.safetensors"):
                with safe_open(str(f), "pt") as t: t.keys()
            for f in ("optimizer.bin", "scheduler.bin", "random_states_0.pkl"):
                if not (ck / f).stat().st_size: bad.append(f"{ck.name}/{f} empty")
        except Exception as e: bad.append(f"{ck.name}: {type(e).__name__}: {e}")
    try:
        if (Path(run) / METRICS_FILE).exists(): read_metrics(run)
    except Exception as e: bad.append(f"{METRICS_FILE}: {type(e).__name__}: {e}")
    return bad


def started(text:str) -> bool:
    "Whether a run's log shows that it has begun training (its first line says 'Training the ... on N images ...')."
    return re.search(r"\bTraining .+ on \d+ images", text) is not None


def resumed_from(log) -> str:
    "What the run's log says it started from: a checkpoint name, 'new run', or '' (killed before it said)."
    text = Path(log).read_text(errors="replace")
    if (m := re.search(r"Resuming from (\S+) at step (\d+)\.", text)): return Path(m.group(1)).name
    if "starting a new run" in text or started(text): return "new run"
    return ""


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=20, help="--checkpointing_steps")
    p.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    p.add_argument("--pause", type=float, default=0.5,
                   help="seconds each checkpoint write sleeps half-way (CLASS_DDPM_CHECKPOINT_PAUSE), so that some kills land inside a write")
    args = p.parse_args()
    extra = []
    if args.quick: args.kills, args.steps, args.every, extra = 4, 60, 10, ["--resolution", "8", "--train_batch_size", "8"]
    d = setup(args)
    work = Path(tempfile.mkdtemp(prefix="class_ddpm_soak_"))
    t0 = time.time()
    # the reference run goes on beside the soak run (they are independent); its log gives the seconds per step
    ref = work / "reference"
    ref_proc = start(command(ref, args.steps, args.every, extra), work / "reference.log", 0)
    def last_step(run_dir) -> int:
        "The last step the run's metrics log holds (0 before its first row)."
        try:
            m = read_metrics(run_dir)
            return int(m["step"][-1]) if len(m["step"]) else 0
        except Exception: return 0

    rng = random.Random(args.seed)
    # the kills cycle through three kinds: after training has begun, at a random point of the steps left (spread so that
    # the kills cover the run); while starting up (loading the data, the model, the checkpoint); inside a checkpoint write
    kinds = [("while training", "while starting up", "while training", "inside a write")[i % 4] for i in range(args.kills)]
    run, rows, attempt, kills = work / "soak", [], 0, 0
    cmd = command(run, args.steps, args.every, [*extra, "--resume_from_checkpoint", "latest"])
    while True:
        attempt += 1
        newest = list_checkpoints(run)
        expected = newest[-1].name if newest else "new run"
        done = int(expected.split("-")[1]) if newest else 0
        log = work / f"attempt{attempt:02d}.log"
        kind = kinds[kills] if kills < args.kills else "none (left to finish)"
        proc = start(cmd, log, args.pause)
        t_start, delay, in_write = time.time(), None, False
        def wait_for(cond):
            while proc.poll() is None and not cond(): time.sleep(0.01)
        if kind == "while training":
            left = sum(k == "while training" for k in kinds[kills:])  # this one included
            writes_left = sum(k == "inside a write" for k in kinds[kills:])
            # each write kill takes the run up to one more checkpoint: keep those steps, and a last share, for later
            free = max(0, args.steps - done - args.every * (writes_left + 1))
            # a step drawn from the steps left, not a delay: on a loaded machine a delay guessed from the speed so far
            # can outlast the whole run
            after = done + 1 + int(rng.uniform(0.0, 1.6) * free / (left + 1))
            wait_for(lambda: last_step(run) >= after)
        elif kind == "while starting up":  # importing, loading the data, the model and the checkpoint
            after = rng.uniform(1.0, 30.0)
            wait_for(lambda: time.time() - t_start > after or started(log.read_text(errors="replace")))
        elif kind == "inside a write":
            after = rng.uniform(0.0, args.pause + 0.2)
            # a write begun by this process: one a killed run left is removed at start-up, before "Training on"
            wait_for(lambda: started(log.read_text(errors="replace")))
            wait_for(lambda: any(run.glob(".tmp-checkpoint-*")))
            time.sleep(after)
        delay = time.time() - t_start
        if proc.poll() is None and kind != "none (left to finish)":
            in_write = any(run.glob(".tmp-checkpoint-*"))  # the moment of the kill, as near as we can see it
            os.kill(proc.pid, signal.SIGKILL)
        rc = proc.wait()
        killed = rc == -signal.SIGKILL
        kills += killed
        said = resumed_from(log)
        text = log.read_text(errors="replace")
        phase = ("finished" if not killed else "inside a checkpoint write" if in_write
                 else "training" if started(text) else "starting up (before training)")
        problems = checkpoint_problems(run)
        rows.append(dict(attempt=attempt, kill=kind, kill_after_s=round(delay, 2) if kind != "none (left to finish)" else "", killed=killed, phase=phase,
                         newest_checkpoint_before=expected, resumed_from=said or "(killed before it said)",
                         resumed_from_newest=(said == expected) if said else "", checkpoints_after=" ".join(
                             c.name.split("-")[1] for c in list_checkpoints(run)), problems="; ".join(problems) or "none",
                         load_1m=load_1m()))
        print(rows[-1], flush=True)
        if not killed:
            if rc != 0: sys.exit(f"attempt {attempt} failed (exit {rc}):\n{text[-3000:]}")
            break
    if ref_proc.wait() != 0: sys.exit(f"the reference run failed:\n{(work / 'reference.log').read_text()[-3000:]}")
    total = time.time() - t0

    same = final_hashes(ref) == final_hashes(run)
    m_ref, m_run = read_metrics(ref), read_metrics(run)
    same_log = all((m_ref[k] == m_run[k]).all() if len(m_ref[k]) == len(m_run[k]) else False for k in ("step", "epoch", "loss", "lr"))
    resumes = [r for r in rows if r["resumed_from_newest"] != ""]
    ok_resumes = sum(r["resumed_from_newest"] is True for r in resumes)
    unusable = sum(r["problems"] != "none" for r in rows)
    phases = {ph: sum(r["phase"] == ph and r["killed"] for r in rows) for ph in
              ("starting up (before training)", "training", "inside a checkpoint write")}
    hashes = final_hashes(run)
    notes = (f"{kills} SIGKILLs at seeded random moments (seed {args.seed}), each followed by `--resume_from_checkpoint latest`. "
             "The kills cycle through three kinds: while training (once the metrics log reaches a step drawn uniformly from the "
             "next one to 1.6 times the steps left (less one checkpoint interval per write kill left, and one more) divided by the "
             "training kills left plus one, so that the kills spread over the run), while starting up "
             "(1 to 30 s after the start, or as training starts), and inside "
             f"a checkpoint write (0 to {args.pause + 0.2:.1f} s after a write begins). Then one run is left to finish: "
             f"{attempt} starts in all. The command: `{' '.join(['python', *command('OUT', args.steps, args.every, extra)[1:]])} "
             f"--resume_from_checkpoint latest`, with CLASS_DDPM_CHECKPOINT_PAUSE={args.pause} s inside each checkpoint write "
             f"so that some kills land there. Kills by phase: {phases['starting up (before training)']} while starting up, "
             f"{phases['training']} while training (or saving grids), {phases['inside a checkpoint write']} inside a checkpoint "
             f"write. Resumes that said where they started: {len(resumes)}, of which {ok_resumes} started from the newest "
             f"complete checkpoint there was. Attempts that left a checkpoint or the metrics log unusable: {unusable}. "
             f"Final weights equal to the uninterrupted reference run's, bit for bit (sha256 over the tensors of the last "
             f"checkpoint's raw and EMA weights and of the saved pipeline's UNet): **{same}** "
             f"(EMA UNet {hashes['pipeline UNet (EMA)'][:16]}...). Metrics log rows (step, epoch, loss, lr) equal to the "
             f"reference's: **{same_log}**. The reference run ran beside the soak run; the whole soak took {total / 60:.1f} min. "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; the machine was shared with other jobs, "
             "so the moments at which the kills landed vary from run to run even with the same seed.")
    cols = ["attempt", "kill", "kill_after_s", "phase", "newest_checkpoint_before", "resumed_from", "resumed_from_newest",
            "checkpoints_after", "problems"]
    write_results(d, "soak", rows, cols, "Soak test: 20 SIGKILLs and resumes of class_ddpm_train" if not args.quick
                  else "Soak test (quick)", notes)
    plot(d, rows)
    shutil.rmtree(work, ignore_errors=True)
    ok = same and same_log and ok_resumes == len(resumes) and unusable == 0 and kills == args.kills
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


def plot(d, rows):
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3))
    x = [r["attempt"] for r in rows]
    start = [0 if r["newest_checkpoint_before"] == "new run" else int(r["newest_checkpoint_before"].split("-")[1]) for r in rows]
    end = [max([int(s) for s in r["checkpoints_after"].split()] or [0]) for r in rows]
    ax.bar(x, [e - s for s, e in zip(start, end)], bottom=start, color=["C3" if r["killed"] else "C2" for r in rows])
    ax.set_xlabel("start (red: killed, green: finished)"); ax.set_ylabel("newest checkpoint (step)")
    ax.set_title("Each start: from the newest checkpoint before it to the newest after it", fontsize=9)
    fig.tight_layout(); fig.savefig(result_dir(d, "soak") / "soak.png", dpi=100); plt.close(fig)


if __name__ == "__main__":
    main()
