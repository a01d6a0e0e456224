"""The selection protocol shared by budgeted.py and suggested.py.

- every schedule gets its own peak lr, chosen from the task's log grid by the mean
  validation metric over the seeds; where the best lr sits at an edge of the grid,
  the grid is extended for that cell (up to MAX_EXTENSIONS times) until it brackets
  the optimum;
- every win, tie or loss is counted on the held-out test metric at the chosen lr:
  a tie is a difference within one standard deviation over the seeds.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tasks import ALL_TASKS  # noqa: E402

MAX_EXTENSIONS = 3


def _init_worker() -> None:
    """One thread per worker process; torch is imported before tensorflow."""
    os.environ.update(
        OMP_NUM_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        TF_NUM_INTRAOP_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow",
        XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    )
    sys.path.insert(0, str(HERE))
    import torch

    torch.set_num_threads(1)
    # Everything a job may import, loaded once now: a run never mixes versions of the
    # package if its files change while it runs.
    import schedules  # noqa: F401
    import tasks  # noqa: F401

    import uba_jax  # noqa: F401
    import uba_tf  # noqa: F401
    import uba_torch  # noqa: F401


def run_job(job: tuple, keep_losses: bool = False) -> tuple[tuple, list[dict], float]:
    """Train one (task, budget, schedule, lr) for its seeds; return the per-seed results
    (with every step's training loss if ``keep_losses``)."""
    task, budget, schedule, lr, seeds = job
    start = time.perf_counter()
    out = ALL_TASKS[task].run(schedule, lr, budget, list(seeds), keep_losses=keep_losses)
    return job, out, time.perf_counter() - start


def run_job_with_losses(job: tuple) -> tuple[tuple, list[dict], float]:
    """`run_job`, keeping every step's training loss."""
    return run_job(job, keep_losses=True)


def _val_means(results: dict, task: str, budget: int, schedule: str) -> dict[float, float]:
    return {
        lr: statistics.fmean(r["val"] for r in runs)
        for (t, b, s, lr), runs in results.items()
        if (t, b, s) == (task, budget, schedule)
    }


def extensions(results: dict, cells: list[tuple], seeds: tuple) -> list[tuple]:
    """Jobs that extend the lr grid of every cell whose best lr is at an edge."""
    jobs = []
    for task, budget, schedule in cells:
        means = _val_means(results, task, budget, schedule)
        lrs = sorted(means)
        best = min(lrs, key=lambda lr: (means[lr], lr))
        if best == lrs[-1] and math.isfinite(means[best]):
            jobs.append((task, budget, schedule, lrs[-1] * lrs[-1] / lrs[-2], seeds))
        elif best == lrs[0]:
            jobs.append((task, budget, schedule, lrs[0] * lrs[0] / lrs[1], seeds))
    return jobs


def run_jobs(
    cells: list[tuple],
    seeds: tuple,
    workers: int,
    journal: Path | None,
    record: Callable[[tuple, Any, float], None],
    results: dict,
    *,
    run: Callable[[tuple], tuple[tuple, Any, float]] = run_job,
    job_of: Callable[[tuple], str] = lambda cell: cell[2],
    cost: Callable[[tuple], float] = lambda job: job[1],
    initializer: Callable[[], None] = _init_worker,
    desc: str = "budgeted",
    lrs: Callable[[tuple], Iterable[float]] = lambda cell: ALL_TASKS[cell[0]].lr_grid,
    extend: bool = True,
) -> None:
    """Train every (task, budget, name) cell over its ``lrs`` (default: its task's lr
    grid), extending the grid where the best lr sits at an edge (up to MAX_EXTENSIONS
    times) if ``extend``.

    A job is ``(task, budget, job_of(cell), lr, seeds)``; one job may train several
    cells (``job_of`` maps them to the same name). ``run(job)`` trains it in a worker
    process and ``record(job, out, seconds)`` files its output into ``results``
    (``results[(task, budget, name, lr)]``, per-seed dicts, which the grid extension
    reads). Jobs run longest ``cost`` first. Every finished job is appended to
    ``journal`` (JSON lines); jobs already there (same seeds) are recorded from it and
    not run again, so an interrupted run resumes where it stopped.
    """
    from tqdm import tqdm

    done = set()
    if journal is not None and journal.exists():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            if tuple(entry["job"][4]) == seeds:
                record(tuple(entry["job"]), entry["out"], entry["seconds"])
                done.add(tuple(entry["job"][:4]))

    def jobs_of(cells_and_lrs: list[tuple]) -> list[tuple]:
        jobs = {(t, b, job_of((t, b, s)), lr, seeds) for t, b, s, lr in cells_and_lrs}
        return sorted(sorted(jobs), key=lambda j: -cost(j))

    jobs = jobs_of([(t, b, s, lr) for t, b, s in cells for lr in lrs((t, b, s))])
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(workers, mp_context=context, initializer=initializer) as pool,
        tqdm(total=len(jobs), unit="job", desc=desc, dynamic_ncols=True) as bar,
    ):
        for round_ in range(MAX_EXTENSIONS + 1):
            todo = [j for j in jobs if j[:4] not in done]
            bar.update(len(jobs) - len(todo))
            for future in as_completed([pool.submit(run, j) for j in todo]):
                job, out, took = future.result()
                record(job, out, took)
                done.add(job[:4])
                if journal is not None:
                    with journal.open("a") as handle:
                        handle.write(json.dumps({"job": job, "out": out, "seconds": took}) + "\n")
                bar.update()
            if round_ == MAX_EXTENSIONS or not extend:
                break
            jobs = jobs_of([job[:4] for job in extensions(results, cells, seeds)])
            if not jobs:
                break
            bar.total += len(jobs)
            bar.set_description(f"{desc} (grid extension {round_ + 1})")
            bar.refresh()


def run_grid(cells: list[tuple], seeds: tuple, workers: int, journal: Path | None = None) -> tuple[dict, dict, dict]:
    """`run_jobs` for one job per cell, with the schedules of schedules.py.

    Returns:
        ``results[(task, budget, schedule, lr)]`` (per-seed dicts), seconds per task,
        and how often each cell's grid was extended.
    """
    results: dict = {}
    seconds: dict = {}

    def record(job: tuple, out: Any, took: float) -> None:
        results[job[:4]] = out
        seconds[job[0]] = seconds.get(job[0], 0.0) + took

    heavy = ("char-lm", "digits-keras")
    run_jobs(cells, seeds, workers, journal, record, results, cost=lambda j: j[1] * (20 if j[0] in heavy else 1))
    # Extensions counted from the results, so that a resumed run reports them too.
    extended: dict = {}
    for task, budget, schedule in cells:
        grid = ALL_TASKS[task].lr_grid
        added = sum(1 for t, b, s, lr in results if (t, b, s) == (task, budget, schedule) and lr not in grid)
        if added:
            extended[(task, budget, schedule)] = added
    return results, seconds, extended


def on_grid(task: str, lr: float) -> bool:
    """Whether ``lr`` is on the task's lr grid or one of its extensions (``MAX_EXTENSIONS``
    geometric steps past either end), as a sweep trains it."""
    grid = sorted(ALL_TASKS[task].lr_grid)
    low, high = grid[1] / grid[0], grid[-1] / grid[-2]
    extended = [grid[0] / low**k for k in range(1, MAX_EXTENSIONS + 1)]
    extended += [grid[-1] * high**k for k in range(1, MAX_EXTENSIONS + 1)]
    return lr in grid or any(math.isclose(lr, x, rel_tol=1e-9) for x in extended)


def stats(runs: list[dict], key: str = "test") -> tuple[float, float]:
    values = [r[key] for r in runs]
    if not all(math.isfinite(v) for v in values):
        return math.inf, math.nan
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def ranks(tests: dict[str, float]) -> dict[str, float]:
    """Rank of each entry (1 = lowest test mean). Means equal to 1e-5 relative (the same curve
    in two float32 implementations, e.g. cosine and uba-2, differ by ~1e-6 after training)
    share the average of their ranks instead of being ordered by rounding."""
    out = {}
    for name, v in tests.items():
        same = [math.isclose(t, v, rel_tol=1e-5) or t == v for t in tests.values()]
        below = sum(t < v and not eq for t, eq in zip(tests.values(), same, strict=True))
        out[name] = below + (sum(same) + 1) / 2
    return out


def mean_ranks(tables: list[dict[str, float]]) -> dict[str, float]:
    """Mean rank of each entry over ``tables`` (one test mean per entry and cell; `ranks`)."""
    per: dict[str, list[float]] = {}
    for table in tables:
        for name, rank in ranks(table).items():
            per.setdefault(name, []).append(rank)
    return {name: statistics.fmean(r) for name, r in per.items()}


def choose(results: dict, task: str, budget: int, schedule: str) -> dict:
    """The val-chosen lr of one schedule in one cell, with its test mean and std."""
    means = _val_means(results, task, budget, schedule)
    lr = min(means, key=lambda x: (means[x], x))
    runs = results[(task, budget, schedule, lr)]
    mean, std = stats(runs)
    lrs = sorted(means)
    curves = [r["curve"] for r in runs if "curve" in r]
    return {
        "schedule": schedule,
        "lr": lr,
        "val": means[lr],
        "test": mean,
        "std": std,
        "at_edge": lr in (lrs[0], lrs[-1]),
        "grid": lrs,
        "curve": np.mean(curves, axis=0).tolist() if curves else None,
    }


def compare(a: dict, b: dict) -> str:
    """'win', 'tie' or 'loss' of a against b on the test metric (lower is better)."""
    if not math.isfinite(a["test"]) or not math.isfinite(b["test"]):
        return "win" if math.isfinite(a["test"]) else ("tie" if not math.isfinite(b["test"]) else "loss")
    if abs(a["test"] - b["test"]) <= max(a["std"], b["std"]):
        return "tie"
    return "win" if a["test"] < b["test"] else "loss"


def fmt(x: float, std: float) -> str:
    if not math.isfinite(x):
        return "diverged"
    return f"{x:.4g} ± {std:.2g}"


def run_records(results: dict) -> list[dict]:
    """``results`` as the JSON records' "runs": one entry per (task, budget, schedule, lr),
    the per-seed results without their training curves."""
    return [
        {
            "task": task,
            "budget": budget,
            "schedule": schedule,
            "lr": lr,
            "seeds": [{k: v for k, v in r.items() if k != "curve"} for r in runs],
        }
        for (task, budget, schedule, lr), runs in results.items()
    ]


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that reproduces a results file (``--resume`` only reuses finished jobs)."""
    args = argv if argv is not None else sys.argv[1:]
    return " ".join(["python", f"benchmarks/{script}", *(a for a in args if a != "--resume")])


def record_head(command: str, elapsed: float, compute: float, workers: int, seeds: tuple) -> dict:
    """The first entries of a results file: how to reproduce it and what it took."""
    return {"command": command, "elapsed_s": elapsed, "compute_s": compute, "workers": workers, "seeds": list(seeds)}


def versions() -> dict:
    """The platform and library versions a results file records."""
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
    }
    for mod in ("torch", "jax", "optax", "tensorflow", "keras", "sklearn"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info
