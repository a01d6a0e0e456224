"""Cooldowns: warmup-stable-UBA against WSD's linear and 1-sqrt cooldowns.

On char-lm (where warmup-stable-decay, budgeted.py's "wsd", beat every other schedule
at T = 120 and 400) and digits-mlp, the tasks of tasks.py trained exactly as there,
under the rules of protocol.py: every schedule gets its own peak lr, chosen on the
mean validation metric over the seeds from the task's lr grid, extended (up to
protocol.MAX_EXTENSIONS times) where the best lr sits at an edge; wins, ties and
losses are counted on the held-out test metric, a tie being a difference within one
std over the seeds.

1. From scratch: linear warmup, the peak, then a cooldown over the last 20 % of the
   budget (budgeted.py's "wsd"), in six shapes: linear (the "wsd" baseline itself),
   1-sqrt (lr = peak * (1 - sqrt((t - t0) / D)) from the cooldown's start t0 over its
   D steps), and UBA with phi in {0.5, 1, 2, 4} (UBAConfig with stable_steps; phi = 2
   is the cosine cooldown, the library's default).
2. Branches: one constant-rate run (warmup, then the peak) per (lr, seed), saved at
   60 % and 80 % of the budget (model and optimizer state_dict plus the data stream's
   state, into a fresh model and optimizer); from each saved state, cooldowns of 10 %
   and 20 % of the budget in each of the six shapes (UBA's from UBAConfig.cooldown).
   The constant run, evaluated at the branches' last steps, is the no-cooldown
   reference. The 80 % + 20 % branch ends at the budget: its linear cooldown repeats
   the from-scratch linear run step for step, which the report checks.
3. Re-budget: UBA planned for T and extended at T / 2 to 2T (UBAConfig.rebudget)
   against UBA planned for 2T from the start, phi in {0.5, 1, 2, 4}. The extended run
   is trained from scratch: up to T / 2 it is the planned-for-T run, same data and lr.

Fixed before running:
- budgets T: char-lm 120 and 400, digits-mlp 150, 500 and 1500 (from scratch); the
  branches and the re-budget's 2T at the largest (400 and 1500);
- warmup: schedules.warmup_steps(T) (5 % of the budget the run was planned for);
- seeds 0-4; lr grids tasks.TASKS[task].lr_grid, extended at an edge;
- "UBA, phi chosen on val" picks phi and its lr on validation; it is compared with the
  better WSD cooldown (linear or 1-sqrt, the better on test) and with phi = 2;
- UBA's knob earns its place in the cooldown if, over all from-scratch and branch
  cells, phi chosen on validation wins more cells than it loses against phi = 2 and
  loses no more cells than it wins against the better WSD cooldown.

    python benchmarks/cooldown.py           # the full grid
    python benchmarks/cooldown.py --quick   # a few minutes: budgets 40 / 150, 2 seeds, phi 0.5 and 2

Writes results/cooldown[-quick].json and .md and a PNG per task (the schedules of the
chosen runs and their training loss).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from protocol import MAX_EXTENSIONS, choose, command_line, compare, fmt, record_head, run_jobs, run_records, versions  # noqa: E402
from schedules import multipliers as budgeted_multipliers  # noqa: E402
from schedules import warmup_steps  # noqa: E402
from tasks import BATCH, CONTEXT, TASKS, TinyGPT, _curve, _finite, _torch_mlp, batch_indices, corpus, digits_split  # noqa: E402

from uba_core import UBAConfig  # noqa: E402

RESULTS = HERE / "results"
BUDGETS = {"char-lm": (120, 400), "digits-mlp": (150, 500, 1500)}
PHIS, QUICK_PHIS = (0.5, 1.0, 2.0, 4.0), (0.5, 2.0)
SEEDS, QUICK_SEEDS = 5, 2
COOLDOWN = 0.2
CHECKPOINTS = (0.6, 0.8)
BRANCH_COOLDOWNS = (0.1, 0.2)
DEFAULT_SHAPE = "uba-2"


# --- schedules --------------------------------------------------------------------------


def shapes(phis: tuple[float, ...]) -> tuple[str, ...]:
    return ("linear", "1-sqrt", *(f"uba-{phi:g}" for phi in phis))


def _phi(shape: str) -> float:
    return float(shape.removeprefix("rebudget-").removeprefix("wsd-").removeprefix("uba-"))


def wsd_curve(shape: str, steps: int) -> np.ndarray:
    """lr / peak over a WSD cooldown of ``steps`` steps from the peak (k = 0 .. steps - 1)."""
    x = np.arange(steps, dtype=np.float64) / steps
    return {"linear": lambda: 1.0 - x, "1-sqrt": lambda: 1.0 - np.sqrt(x)}[shape]()


def cooldown_multipliers(shape: str, budget: int) -> np.ndarray:
    """lr / peak of warmup-stable-``shape`` over ``budget`` steps, the last 20 % cooling down."""
    W, D = warmup_steps(budget), round(COOLDOWN * budget)
    if shape.startswith("uba-"):
        config = UBAConfig(
            total_steps=budget, peak_lr=1.0, phi=_phi(shape), warmup_steps=W, stable_steps=budget - W - D
        )
        return config(np.arange(budget))
    t = np.arange(budget - D, dtype=np.float64)
    return np.concatenate([np.minimum(t / W, 1.0), wsd_curve(shape, D)])


def trunk_config(budget: int, phi: float = 2.0) -> UBAConfig:
    """The constant-rate run: warmup, then the peak for the whole budget (its decay, one
    step long, starts at ``budget``, which the run never reaches)."""
    W = warmup_steps(budget)
    return UBAConfig(total_steps=budget + 1, peak_lr=1.0, phi=phi, warmup_steps=W, stable_steps=budget - W)


def branch_multipliers(shape: str, budget: int, start: int, steps: int) -> np.ndarray:
    """lr / peak of a cooldown of ``steps`` steps branched from the constant run at ``start``."""
    if shape.startswith("uba-"):
        return trunk_config(budget, _phi(shape)).cooldown(start, steps)(start + np.arange(steps))
    return wsd_curve(shape, steps)


def rebudget_config(phi: float, budget: int) -> UBAConfig:
    """UBA planned for ``budget // 2`` steps, extended at a quarter of ``budget`` to ``budget``."""
    planned = budget // 2
    config = UBAConfig(total_steps=planned, peak_lr=1.0, phi=phi, warmup_steps=warmup_steps(planned))
    return config.rebudget(planned // 2, budget)


def multipliers(schedule: str, budget: int) -> np.ndarray:
    """lr / peak at t = 0 .. budget - 1 of a from-scratch schedule: "wsd-<shape>",
    "uba-<phi>" (planned for ``budget``, as budgeted.py) or "rebudget-uba-<phi>"."""
    if schedule.startswith("wsd-"):
        return cooldown_multipliers(schedule.removeprefix("wsd-"), budget)
    if schedule.startswith("rebudget-"):
        return rebudget_config(_phi(schedule), budget)(np.arange(budget))
    return budgeted_multipliers(schedule, budget)


def branch_points(budget: int) -> tuple[list[int], list[int]]:
    return [round(c * budget) for c in CHECKPOINTS], [round(d * budget) for d in BRANCH_COOLDOWNS]


def variant(shape: str, start: float, steps: float) -> str:
    return f"{shape}@{start:.0%}+{steps:.0%}"


# --- training ---------------------------------------------------------------------------


class Trainer:
    """One task's training, a step at a time, from a state that can be saved and restored.

    A state holds the model, the optimizer, the data stream and the step count ``t``;
    ``save`` writes the model and optimizer through their state_dict, as a checkpoint
    on disk would, and ``load`` reads them into a fresh model and optimizer.
    """

    def __init__(self, budget: int) -> None:
        import torch

        self.torch, self.budget = torch, budget

    def save(self, state: dict) -> tuple[bytes, object, int]:
        buffer = io.BytesIO()
        self.torch.save({"model": state["model"].state_dict(), "opt": state["opt"].state_dict()}, buffer)
        return buffer.getvalue(), copy.deepcopy(state["data"]), state["t"]

    def load(self, saved: tuple[bytes, object, int]) -> dict:
        blob, data, t = saved
        state = self.fresh()
        weights = self.torch.load(io.BytesIO(blob))
        state["model"].load_state_dict(weights["model"])
        state["opt"].load_state_dict(weights["opt"])
        return {**state, "data": copy.deepcopy(data), "t": t}

    def step(self, state: dict, lr: float) -> float:
        for group in state["opt"].param_groups:
            group["lr"] = float(lr)
        loss = self.loss(state)
        state["opt"].zero_grad()
        loss.backward()
        if self.max_norm is not None:
            self.torch.nn.utils.clip_grad_norm_(state["model"].parameters(), self.max_norm)
        state["opt"].step()
        state["t"] += 1
        return loss.item() / self.unit


class CharLM(Trainer):
    """tasks.run_char_lm: the same model, optimizer, data and evaluation."""

    max_norm, unit = 1.0, math.log(2)  # the curve in bits per character

    def __init__(self, budget: int) -> None:
        super().__init__(budget)
        tokens, _ = corpus()
        n = len(tokens)
        cuts = {"train": (0, int(0.9 * n)), "val": (int(0.9 * n), int(0.95 * n)), "test": (int(0.95 * n), n)}
        self.data = {k: self.torch.from_numpy(tokens[a:b]) for k, (a, b) in cuts.items()}
        eval_rng = np.random.default_rng(777)
        self.held = {k: self.windows(k, eval_rng, 512) for k in ("val", "test")}

    def windows(self, split: str, rng: np.random.Generator, count: int):
        starts = rng.integers(0, len(self.data[split]) - CONTEXT - 1, count)
        return self.torch.stack([self.data[split][s : s + CONTEXT + 1] for s in starts])

    def fresh(self) -> dict:
        model = TinyGPT()
        return {"model": model, "opt": self.torch.optim.AdamW(model.parameters(), lr=0.0, weight_decay=0.01)}

    def init(self, seed: int) -> dict:
        self.torch.manual_seed(seed)
        return {**self.fresh(), "data": np.random.default_rng(seed), "t": 0}

    def loss(self, state: dict):
        return state["model"].loss(self.windows("train", state["data"], BATCH))

    def evaluate(self, state: dict) -> dict:
        model = state["model"]
        model.eval()
        with self.torch.no_grad():
            bpc = {k: _finite(model.loss(v).item() / math.log(2)) for k, v in self.held.items()}
        model.train()
        return bpc


class DigitsMLP(Trainer):
    """tasks.run_digits_torch: the same model, optimizer, data and evaluation."""

    max_norm, unit = None, 1.0

    def __init__(self, budget: int) -> None:
        super().__init__(budget)
        self.tensors = {k: (self.torch.from_numpy(x), self.torch.from_numpy(y)) for k, (x, y) in digits_split().items()}

    def fresh(self) -> dict:
        model = _torch_mlp()
        return {"model": model, "opt": self.torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)}

    def init(self, seed: int) -> dict:
        self.torch.manual_seed(seed)
        # The whole budget's batch order: a branch reads on from its checkpoint's step.
        return {**self.fresh(), "data": batch_indices(len(self.tensors["train"][0]), self.budget, 32, seed), "t": 0}

    def loss(self, state: dict):
        idx = self.torch.from_numpy(state["data"][state["t"]])
        x, y = self.tensors["train"]
        return self.torch.nn.functional.cross_entropy(state["model"](x[idx]), y[idx])

    def evaluate(self, state: dict) -> dict:
        F, model = self.torch.nn.functional, state["model"]
        with self.torch.no_grad():
            out = {
                k: _finite(F.cross_entropy(model(x), y).item()) for k, (x, y) in self.tensors.items() if k != "train"
            }
            x, y = self.tensors["test"]
            out["test_acc"] = float((model(x).argmax(1) == y).float().mean())
        return out


TRAINERS = {"char-lm": CharLM, "digits-mlp": DigitsMLP}


def train(task: str, lrs: np.ndarray, seeds: tuple) -> list[dict]:
    """Train one schedule (the lr of every step) for each seed; the per-seed results."""
    trainer = TRAINERS[task](len(lrs))
    out = []
    for seed in seeds:
        state = trainer.init(seed)
        losses = [trainer.step(state, lr) for lr in lrs]
        out.append({**trainer.evaluate(state), "curve": _curve(np.asarray(losses))})
    return out


def branch(task: str, budget: int, peak: float, seeds: tuple, names: tuple[str, ...]) -> list[dict]:
    """The constant run and every cooldown branched from its checkpoints, for each seed:
    per seed, a dict of results by variant name."""
    trainer = TRAINERS[task](budget)
    trunk = peak * trunk_config(budget)(np.arange(budget))
    starts, lengths = branch_points(budget)
    ends = sorted({s + d for s in starts for d in lengths})
    out = []
    for seed in seeds:
        state, losses, got = trainer.init(seed), [], {}
        for t in range(ends[-1] + 1):
            if t in starts:
                saved = trainer.save(state)
                for shape in names:
                    for d, frac in zip(lengths, BRANCH_COOLDOWNS, strict=True):
                        cool = trainer.load(saved)
                        tail = [trainer.step(cool, peak * m) for m in branch_multipliers(shape, budget, t, d)]
                        name = variant(shape, CHECKPOINTS[starts.index(t)], frac)
                        got[name] = {**trainer.evaluate(cool), "curve": _curve(np.asarray(losses + tail))}
            if t in ends:
                got[f"constant@{t / budget:.0%}"] = {**trainer.evaluate(state), "curve": _curve(np.asarray(losses))}
            if t < ends[-1]:
                losses.append(trainer.step(state, trunk[t]))
        out.append(got)
    return out


def run_job(job: tuple) -> tuple[tuple, list, float]:
    """One (task, budget, schedule, lr, seeds) job; "branch:<shapes>" trains the branches."""
    task, budget, schedule, lr, seeds = job
    start = time.perf_counter()
    if schedule.startswith("branch:"):
        out = branch(task, budget, lr, tuple(seeds), tuple(schedule.removeprefix("branch:").split(",")))
    else:
        out = train(task, lr * multipliers(schedule, budget), tuple(seeds))
    return job, out, time.perf_counter() - start


def job_steps(job: tuple) -> int:
    """Training steps of one job (all seeds), to order the jobs and estimate a grid's time."""
    _, budget, schedule, _, seeds = job
    if not schedule.startswith("branch:"):
        return budget * len(seeds)
    starts, lengths = branch_points(budget)
    per_shape = len(starts) * sum(lengths)
    return (max(starts) + max(lengths) + per_shape * len(schedule.split(","))) * len(seeds)


def _init_worker() -> None:
    """One thread per worker process, set before torch is imported."""
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    sys.path.insert(0, str(HERE))
    import torch

    torch.set_num_threads(1)


# --- the grid ---------------------------------------------------------------------------


def plan(tasks: tuple[str, ...], quick: bool) -> dict:
    """Every cell (task, budget, result name) and the job that trains it."""
    phis = QUICK_PHIS if quick else PHIS
    names = shapes(phis)
    out: dict = {"scratch": [], "branch": [], "rebudget": [], "job": {}, "budgets": {}}
    for task in tasks:
        budgets = (TASKS[task].quick_budget,) if quick else BUDGETS[task]
        big = budgets[-1]
        out["budgets"][task] = {"scratch": list(budgets), "branch": big, "rebudget": big}
        for budget in budgets:
            out["scratch"] += [(task, budget, f"wsd-{s}") for s in names]
        job = "branch:" + ",".join(names)
        starts, lengths = branch_points(big)
        for c in CHECKPOINTS:
            for d in BRANCH_COOLDOWNS:
                out["branch"] += [(task, big, variant(s, c, d)) for s in names]
        for end in sorted({s + d for s in starts for d in lengths}):
            out["branch"].append((task, big, f"constant@{end / big:.0%}"))
        for cell in out["branch"]:
            if cell[0] == task:
                out["job"][cell] = job
        out["rebudget"] += [(task, big, s) for phi in phis for s in (f"uba-{phi:g}", f"rebudget-uba-{phi:g}")]
    for cell in out["scratch"] + out["rebudget"]:
        out["job"][cell] = cell[2]
    return out


def run(cells: list[tuple], job_of: dict, seeds: tuple, workers: int, journal: Path) -> tuple[dict, list]:
    """protocol.run_jobs with jobs that may train several cells at once (the branches).

    Returns ``results[(task, budget, name, lr)]`` and the job timings.
    """
    results: dict = {}
    timings: list = []

    def record(job: tuple, out: list, took: float) -> None:
        task, budget, schedule, lr, _ = job
        if schedule.startswith("branch:"):
            for name in out[0]:
                results[(task, budget, name, lr)] = [o[name] for o in out]
        else:
            results[(task, budget, schedule, lr)] = out
        timings.append({"job": list(job[:4]), "steps": job_steps(job), "seconds": took})

    run_jobs(
        cells,
        seeds,
        workers,
        journal,
        record,
        results,
        run=run_job,
        job_of=job_of.__getitem__,
        cost=lambda j: job_steps(j) * (25 if j[0] == "char-lm" else 1),
        initializer=_init_worker,
        desc="cooldown",
    )
    return results, timings


# --- the report -------------------------------------------------------------------------


def verdicts(chosen: dict, names: tuple[str, ...]) -> dict:
    """UBA with phi chosen on val against the better WSD cooldown and against phi = 2."""
    ubas = [s for s in names if s.startswith("uba-")]
    best_uba = min(ubas, key=lambda s: (chosen[s]["val"], s))
    wsd = min(("linear", "1-sqrt"), key=lambda s: chosen[s]["test"])
    finite = [s for s in names if math.isfinite(chosen[s]["test"])]
    return {
        "best_shape": min(finite, key=lambda s: chosen[s]["test"]) if finite else None,
        "uba_phi": _phi(best_uba),
        "better_wsd": wsd,
        "uba_vs_wsd": compare(chosen[best_uba], chosen[wsd]),
        "uba_vs_default": compare(chosen[best_uba], chosen[DEFAULT_SHAPE]) if DEFAULT_SHAPE in names else None,
        "vs_linear": {s: compare(chosen[s], chosen["linear"]) for s in names if s != "linear"},
        "one_trunk": len({chosen[s]["lr"] for s in names}) == 1,
    }


def summarise(results: dict, layout: dict, names: tuple[str, ...]) -> dict:
    cells = []
    for task, per in layout["budgets"].items():
        for budget in per["scratch"]:
            chosen = {s: choose(results, task, budget, f"wsd-{s}") for s in names}
            cells.append(
                {"kind": "scratch", "task": task, "budget": budget, "chosen": chosen, **verdicts(chosen, names)}
            )
        big = per["branch"]
        starts, lengths = branch_points(big)
        for c, start in zip(CHECKPOINTS, starts, strict=True):
            for d, steps in zip(BRANCH_COOLDOWNS, lengths, strict=True):
                chosen = {s: choose(results, task, big, variant(s, c, d)) for s in names}
                chosen["constant"] = choose(results, task, big, f"constant@{(start + steps) / big:.0%}")
                cells.append(
                    {"kind": "branch", "task": task, "budget": big, "from": c, "cooldown": d, "chosen": chosen}
                    | verdicts(chosen, names)
                )
    ranks = {s: [] for s in names}
    for cell in cells:
        tests = {s: cell["chosen"][s]["test"] for s in names}
        for s, v in tests.items():
            ranks[s].append(sum(u < v for u in tests.values()) + (sum(u == v for u in tests.values()) + 1) / 2)
    rebudget = []
    for task, per in layout["budgets"].items():
        for name in names:
            if name.startswith("uba-"):
                planned = choose(results, task, per["rebudget"], name)
                extended = choose(results, task, per["rebudget"], f"rebudget-{name}")
                rebudget.append(
                    {
                        "task": task,
                        "budget": per["rebudget"],
                        "phi": _phi(name),
                        "planned": planned,
                        "extended": extended,
                        "extended_vs_planned": compare(extended, planned),
                    }
                )
    return {"cells": cells, "mean_rank": {s: statistics.fmean(r) for s, r in ranks.items()}, "rebudget": rebudget}


def knob_earns_its_place(vs_wsd: list[str], vs_default: list[str]) -> bool:
    """The criterion for UBA's phi in the cooldown, fixed before running."""
    return vs_default.count("win") > vs_default.count("loss") and vs_wsd.count("win") >= vs_wsd.count("loss")


def tally(values: list[str]) -> str:
    plural = {"win": "wins", "tie": "ties", "loss": "losses"}
    return ", ".join(f"{values.count(k)} {k if values.count(k) == 1 else plural[k]}" for k in plural)


def branch_check(results: dict, layout: dict, names: tuple[str, ...]) -> list[str]:
    """The 80 % + 20 % branches against the from-scratch runs they repeat step for step."""
    lines = []
    for task, per in layout["budgets"].items():
        big = per["branch"]
        pairs = [
            (a["test"], b["test"])
            for s in names
            for (t, b_, v, lr), runs in results.items()
            if (t, b_, v) == (task, big, variant(s, CHECKPOINTS[-1], BRANCH_COOLDOWNS[-1]))
            and (task, big, f"wsd-{s}", lr) in results
            for a, b in zip(runs, results[(task, big, f"wsd-{s}", lr)], strict=True)
        ]
        worst = max((abs(a - b) for a, b in pairs), default=math.nan)
        lines.append(
            f"- {task}: each shape's branch at {CHECKPOINTS[-1]:.0%} + {BRANCH_COOLDOWNS[-1]:.0%} against its "
            f"from-scratch run at T = {big} (the same steps, lrs and data): largest |test difference| "
            f"{worst:.3g} over {len(pairs)} (shape, lr, seed) runs."
        )
    return lines


def markdown(summary: dict, layout: dict, names: tuple[str, ...], metric: dict, results: dict) -> str:
    cells = summary["cells"]
    out = ["### Verdict (test metric, mean ± std over seeds, lower is better)\n"]
    for kind, label in (("scratch", "from scratch"), ("branch", "branched from a constant run")):
        group = [c for c in cells if c["kind"] == kind]
        wins = {s: sum(c["best_shape"] == s for c in group) for s in names}
        out.append(
            f"- Best cooldown shape on test, {label}: "
            + ", ".join(f"{s} {n}" for s, n in sorted(wins.items(), key=lambda kv: -kv[1]) if n)
            + f" (of {len(group)} cells)."
        )
    out.append(
        "- Mean rank of each shape over all "
        f"{len(cells)} cells (1 = best): "
        + ", ".join(f"{s} {r:.2f}" for s, r in sorted(summary["mean_rank"].items(), key=lambda kv: kv[1]))
        + "."
    )
    vs_wsd = [c["uba_vs_wsd"] for c in cells]
    vs_default = [c["uba_vs_default"] for c in cells if c["uba_vs_default"]]
    out.append(
        f"- UBA with phi chosen on validation against the better WSD cooldown (linear or 1-sqrt, "
        f"the better on test): {tally(vs_wsd)} over {len(cells)} cells."
    )
    if vs_default:
        out.append(f"- The same against phi = 2 (the cosine cooldown, the default): {tally(vs_default)}.")
        earns = knob_earns_its_place(vs_wsd, vs_default)
        out.append(
            f"- **Does UBA's knob earn its place in the cooldown? {'Yes' if earns else 'No'}**, by the criterion "
            "fixed before running: phi chosen on validation must win more cells than it loses against phi = 2 "
            "and lose no more cells than it wins against the better WSD cooldown."
        )
    reb = [r["extended_vs_planned"] for r in summary["rebudget"]]
    out.append(
        f"- Re-budget (planned for T, extended at T/2 to 2T, against planned for 2T): {tally(reb)} over {len(reb)}.\n"
    )

    for task, per in layout["budgets"].items():
        out.append(f"### {task} ({metric[task]}): from scratch, cooldown over the last {COOLDOWN:.0%}\n")
        group = {c["budget"]: c for c in cells if c["kind"] == "scratch" and c["task"] == task}
        out += _table(group, names, [f"T = {b}" for b in group])
        big = per["branch"]
        out.append(
            f"### {task}: cooldowns branched from one constant run (T = {big}), "
            "from the checkpoint at X % for Y % of T\n"
        )
        group = {(c["from"], c["cooldown"]): c for c in cells if c["kind"] == "branch" and c["task"] == task}
        out += _table(group, ("constant", *names), [f"{c:.0%} + {d:.0%}" for c, d in group])
        out.append(
            "The constant row is the constant run itself at the branch's last step (no cooldown). "
            "Cells where every shape's lr was the same (one trunk for all): "
            + ", ".join(f"{c:.0%} + {d:.0%}" for (c, d), cell in group.items() if cell["one_trunk"])
            + ".\n"
        )
    out.append("### Re-budget: UBA planned for T, extended at T/2 to 2T (UBAConfig.rebudget)\n")
    out.append("| task | 2T | phi | planned for 2T | planned for T, extended | extended vs planned |")
    out.append("|---|---:|---:|---:|---:|---|")
    for r in summary["rebudget"]:
        p, e = r["planned"], r["extended"]
        out.append(
            f"| {r['task']} | {r['budget']} | {r['phi']:g} | {fmt(p['test'], p['std'])} (lr {p['lr']:.3g}) | "
            f"{fmt(e['test'], e['std'])} (lr {e['lr']:.3g}) | {r['extended_vs_planned']} |"
        )
    out.append("\n### Checks\n")
    out += branch_check(results, layout, names)
    return "\n".join(out) + "\n"


def _table(group: dict, rows: tuple[str, ...], headers: list[str]) -> list[str]:
    out = ["| cooldown | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(headers)]
    for s in rows:
        row = []
        for cell in group.values():
            ch = cell["chosen"][s]
            text = f"{fmt(ch['test'], ch['std'])} (lr {ch['lr']:.3g}{', at edge' if ch['at_edge'] else ''})"
            row.append(f"**{text}**" if s == cell["best_shape"] else text)
        out.append(f"| {s} | " + " | ".join(row) + " |")
    out.append(
        "| *UBA, phi on val* | "
        + " | ".join(
            f"phi = {c['uba_phi']:g}: {c['uba_vs_wsd']} vs {c['better_wsd']}"
            + (f", {c['uba_vs_default']} vs phi = 2" if c["uba_vs_default"] else "")
            for c in group.values()
        )
        + " |\n"
    )
    return out


def plot(summary: dict, task: str, names: tuple[str, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cell = [c for c in summary["cells"] if c["kind"] == "scratch" and c["task"] == task][-1]
    budget = cell["budget"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.2), layout="constrained")
    for s in names:
        ch = cell["chosen"][s]
        style = {"ls": "--" if s in ("linear", "1-sqrt") else "-", "lw": 2.2 if s == cell["best_shape"] else 1.3}
        ax1.plot(ch["lr"] * multipliers(f"wsd-{s}", budget), label=s, **style)
        x = np.linspace(0, budget, len(ch["curve"]))
        late = x >= 0.6 * budget
        ax2.plot(x[late], np.asarray(ch["curve"])[late], label=f"{s}: test {fmt(ch['test'], ch['std'])}", **style)
    for i, r in enumerate(r for r in summary["rebudget"] if r["task"] == task):
        for arm, ls in (("planned", "-"), ("extended", "--")):
            name = f"uba-{r['phi']:g}" if arm == "planned" else f"rebudget-uba-{r['phi']:g}"
            lrs = r[arm]["lr"] * multipliers(name, r["budget"])
            ax3.plot(lrs, ls=ls, color=f"C{i}", label=f"phi = {r['phi']:g}, {arm} (lr {r[arm]['lr']:.3g})")
    ax1.set(title=f"{task}, T = {budget}: lr of each cooldown's chosen run", xlabel="step", ylabel="learning rate")
    ax2.set(title="training loss, last 40 % (mean over seeds, windowed)", xlabel="step")
    ax3.set(title="re-budget: planned for 2T, or for T and extended at T/2", xlabel="step")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="budgets 40 / 150, 2 seeds, phi 0.5 and 2")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--resume", action="store_true", help="keep the jobs an interrupted run finished")
    args = parser.parse_args(argv)
    seeds = tuple(range(QUICK_SEEDS if args.quick else SEEDS))
    names = shapes(QUICK_PHIS if args.quick else PHIS)
    layout = plan(tuple(BUDGETS), args.quick)
    out_dir = Path(args.out) if args.out else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "cooldown-quick" if args.quick else "cooldown"
    journal = out_dir / f"{stem}.jobs.jsonl"
    if not args.resume:
        journal.unlink(missing_ok=True)

    cells = layout["scratch"] + layout["branch"] + layout["rebudget"]
    start = time.perf_counter()
    results, timings = run(cells, layout["job"], seeds, args.workers, journal)
    elapsed = time.perf_counter() - start

    summary = summarise(results, layout, names)
    metric = {t: TASKS[t].metric for t in BUDGETS}
    table = markdown(summary, layout, names, metric, results)
    print("\n" + table)
    still_edge = sorted({f"{t}/T={b}/{s}" for t, b, s in cells if choose(results, t, b, s)["at_edge"]})
    if still_edge:
        print("best lr still at the grid edge after extension:", ", ".join(still_edge))
    for task in BUDGETS:
        plot(summary, task, names, out_dir / f"{stem}-{task}.png")
    command = command_line("cooldown.py", argv)
    compute = sum(t["seconds"] for t in timings)
    record = {
        **record_head(command.strip(), elapsed, compute, args.workers, seeds),
        "constants": {
            "budgets": layout["budgets"],
            "shapes": list(names),
            "cooldown": COOLDOWN,
            "checkpoints": list(CHECKPOINTS),
            "branch_cooldowns": list(BRANCH_COOLDOWNS),
            "warmup": "schedules.warmup_steps: 5 % of the planned budget",
            "lr_grids": {t: list(TASKS[t].lr_grid) for t in BUDGETS},
            "max_extensions": MAX_EXTENSIONS,
        },
        "still_at_edge": still_edge,
        "versions": versions(),
        "corpus": corpus()[1],
        "summary": summary,
        "jobs": timings,
        "runs": run_records(results),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=1, default=float))
    header = (
        f"Measured with `{command.strip()}` ({len(seeds)} seeds, {args.workers} workers on "
        f"{os.cpu_count()} cores): {compute / 60:.1f} core-minutes of training, "
        f"{elapsed / 60:.1f} min of wall time{' (resumed from a journal)' if args.resume else ''}. "
        "Protocol and constants: the docstring of benchmarks/cooldown.py.\n\n"
    )
    (out_dir / f"{stem}.md").write_text(header + table)
    print(f"wrote {out_dir / (stem + '.json')}, {stem}.md and one PNG per task ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
