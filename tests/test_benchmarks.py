"""The benchmark's schedules are what they claim, in every framework; its selection rules hold."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import framework

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from protocol import compare, extensions, run_grid, run_jobs  # noqa: E402
from schedules import SCHEDULES, multipliers, warmup_steps  # noqa: E402
from tasks import TASKS  # noqa: E402

BUDGET, PEAK = 60, 0.3


def test_baseline_formulas_against_independent_definitions() -> None:
    T, W = 200, warmup_steps(200)
    t = np.arange(T)
    p = np.clip((t - W) / (T - W), 0, 1)
    warm = t < W
    np.testing.assert_allclose(multipliers("linear", T)[~warm], 1 - p[~warm], atol=1e-15)
    np.testing.assert_allclose(multipliers("rex", T)[~warm], (1 - p[~warm]) / (0.5 + 0.5 * (1 - p[~warm])))
    step = multipliers("step", T)[~warm]
    assert set(np.round(step, 12)) == {1.0, 0.1, 0.01}
    assert np.all(np.diff(step) <= 0)
    wsd = multipliers("wsd", T)
    assert np.all(wsd[W:160] == 1.0) and wsd[-1] == pytest.approx(1 / 40)
    np.testing.assert_allclose(np.diff(wsd[160:]), -1 / 40)
    for s in SCHEDULES:
        if s != "one-cycle":
            np.testing.assert_allclose(multipliers(s, T)[:W], t[:W] / W, atol=1e-15, err_msg=s)


def used_lrs_torch(schedule: str) -> np.ndarray:
    torch = framework("torch", "torch")
    from schedules import torch_scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=PEAK)
    sched = torch_scheduler(schedule, opt, BUDGET, PEAK)
    lrs = []
    for _ in range(BUDGET):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_torch_schedules_follow_the_formulas(schedule: str) -> None:
    np.testing.assert_allclose(used_lrs_torch(schedule), PEAK * multipliers(schedule, BUDGET), rtol=1e-12, atol=1e-15)


def test_one_cycle_is_torch_one_cycle_lr() -> None:
    torch = framework("torch", "torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=PEAK)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=PEAK,
        total_steps=BUDGET,
        pct_start=0.3,
        div_factor=25,
        final_div_factor=1e4,
        anneal_strategy="cos",
        cycle_momentum=False,
    )
    lrs = []
    for _ in range(BUDGET):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, PEAK * multipliers("one-cycle", BUDGET), rtol=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_optax_schedules_follow_the_formulas(schedule: str) -> None:
    framework("jax", "optax")
    import jax.numpy as jnp
    from schedules import optax_schedule

    got = np.asarray(optax_schedule(schedule, BUDGET, PEAK)(jnp.arange(BUDGET)))
    np.testing.assert_allclose(got, PEAK * multipliers(schedule, BUDGET), rtol=1e-6, atol=1e-6 * PEAK)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_keras_schedules_follow_the_formulas(schedule: str) -> None:
    keras = framework("tf", "keras")
    from schedules import keras_schedule

    sched = keras_schedule(schedule, BUDGET, PEAK)
    got = [float(sched(keras.ops.convert_to_tensor(k, "int64"))) for k in range(BUDGET)]
    np.testing.assert_allclose(got, PEAK * multipliers(schedule, BUDGET), rtol=1e-6, atol=1e-6 * PEAK)


def runs(val: float, test: float = 0.0) -> list[dict]:
    return [{"val": val, "test": test, "curve": [0.0]}] * 2


def test_the_grid_is_extended_where_the_best_lr_sits_at_an_edge() -> None:
    results = {("t", 10, "a", lr): runs(v) for lr, v in [(0.1, 3.0), (0.3, 2.0), (1.0, 1.0)]}
    results |= {("t", 10, "b", lr): runs(v) for lr, v in [(0.1, 1.0), (0.3, 2.0), (1.0, 3.0)]}
    results |= {("t", 10, "c", lr): runs(v) for lr, v in [(0.1, 2.0), (0.3, 1.0), (1.0, math.inf)]}
    jobs = extensions(results, [("t", 10, "a"), ("t", 10, "b"), ("t", 10, "c")], (0, 1))
    lrs = {job[2]: job[3] for job in jobs}
    assert {job[:3] for job in jobs} == {("t", 10, "a"), ("t", 10, "b")}
    assert lrs["a"] == pytest.approx(1.0 / 0.3) and lrs["b"] == pytest.approx(0.1 * 0.1 / 0.3)


def test_ties_are_within_one_std() -> None:
    assert compare({"test": 1.0, "std": 0.2}, {"test": 1.15, "std": 0.1}) == "tie"
    assert compare({"test": 1.0, "std": 0.05}, {"test": 1.15, "std": 0.1}) == "win"
    assert compare({"test": 1.3, "std": 0.05}, {"test": 1.15, "std": 0.1}) == "loss"
    assert compare({"test": math.inf, "std": math.nan}, {"test": 1.0, "std": 0.1}) == "loss"


def test_a_resumed_grid_reruns_no_finished_job(tmp_path) -> None:
    pytest.importorskip("tqdm")
    cell, seeds = ("quadratic-k10", 100, "cosine"), (0, 1)
    grid = TASKS[cell[0]].lr_grid
    journal = tmp_path / "grid.jobs.jsonl"
    with journal.open("w") as handle:
        for lr in grid:  # the best lr (0.5) inside the grid: nothing to extend
            out = [{"val": abs(math.log(lr / 0.5)), "test": 1.0, "curve": [0.0]}] * 2
            handle.write(json.dumps({"job": [*cell, lr, list(seeds)], "out": out, "seconds": 1.5}) + "\n")
        other = {"job": [*cell, 0.5, [7, 8]], "out": [], "seconds": 100.0}  # other seeds: not this run's
        handle.write(json.dumps(other) + "\n")
    results, seconds, extended = run_grid([cell], seeds, 1, journal)
    assert sorted(results) == [(*cell, lr) for lr in grid]
    assert seconds == {cell[0]: 1.5 * len(grid)} and extended == {}


def imported_modules(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


SCRIPTS = {path.stem for path in BENCHMARKS.glob("*.py")}


@pytest.mark.parametrize("script", ["budgeted", "suggested"])
def test_the_two_grid_scripts_share_protocol_and_import_neither_other(script: str) -> None:
    other = {"budgeted": "suggested", "suggested": "budgeted"}[script]
    imported = imported_modules(BENCHMARKS / f"{script}.py")
    assert "protocol" in imported and other not in imported


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "uba_core").glob("*.py")))
def test_the_library_imports_nothing_from_benchmarks(module: str) -> None:
    source = (ROOT / "uba_core" / module).read_text()
    assert not imported_modules(ROOT / "uba_core" / module) & SCRIPTS
    assert "spec_from_file_location" not in source and "tasks.py" not in source


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "args",
    [
        ["budgeted.py", "--help"],
        ["suggested.py", "--help"],
        ["suggested.py", "task", "--help"],
        ["suggested.py", "grid", "--help"],
    ],
)
def test_the_scripts_describe_their_commands(args: list[str]) -> None:
    proc = script(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: ")


def test_the_suggested_grid_needs_the_budgeted_results_first(tmp_path) -> None:
    proc = script("suggested.py", "grid", "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{tmp_path / 'budgeted.json'} not found: run python benchmarks/budgeted.py first" in proc.stderr


# --- benchmarks/cooldown.py (issue 12) ---------------------------------------------------


def test_cooldown_wsd_shapes_follow_their_formulas() -> None:
    import cooldown

    T, W, D = 200, warmup_steps(200), 40
    t0 = T - D
    for shape, formula in (("linear", lambda t: 1 - (t - t0) / D), ("1-sqrt", lambda t: 1 - math.sqrt((t - t0) / D))):
        got = cooldown.multipliers(f"wsd-{shape}", T)
        assert got.shape == (T,)
        for t in (0, W - 1, W, t0 - 1):
            assert got[t] == pytest.approx(min(t / W, 1.0), abs=1e-15), (shape, t)
        for t in (t0, t0 + 1, t0 + 17, T - 1):
            assert got[t] == pytest.approx(formula(t), rel=1e-14, abs=1e-15), (shape, t)
    # The linear cooldown is budgeted.py's "wsd" itself.
    np.testing.assert_allclose(cooldown.multipliers("wsd-linear", T), multipliers("wsd", T), rtol=1e-14, atol=1e-15)
    for start, steps in ((120, 20), (160, 40)):
        k = np.array([0, 1, 7, steps - 1])
        np.testing.assert_allclose(cooldown.branch_multipliers("linear", T, start, steps)[k], 1 - k / steps)
        np.testing.assert_allclose(cooldown.branch_multipliers("1-sqrt", T, start, steps)[k], 1 - np.sqrt(k / steps))


@pytest.mark.parametrize("phi", [0.5, 1.0, 2.0, 4.0])
def test_cooldown_uba_curves_are_the_library_configs(phi: float) -> None:
    import cooldown

    from uba_core import UBAConfig

    T, W, D = 200, warmup_steps(200), 40
    steps = np.arange(T)
    wsu = UBAConfig(total_steps=T, peak_lr=1.0, phi=phi, warmup_steps=W, stable_steps=T - W - D)
    np.testing.assert_array_equal(cooldown.multipliers(f"wsd-uba-{phi:g}", T), wsu(steps))
    # Against the UBA formula itself: f = 2u / (2 phi + (2 - phi) u), u = 1 + cos(pi p), over the cooldown.
    u = 1 + np.cos(np.pi * (steps[T - D :] - (T - D)) / D)
    np.testing.assert_allclose(wsu(steps)[T - D :], 2 * u / (2 * phi + (2 - phi) * u), rtol=1e-12, atol=1e-15)
    # The constant run is budgeted.py's "constant"; a branch's cooldown is UBAConfig.cooldown from it.
    trunk = UBAConfig(total_steps=T + 1, peak_lr=1.0, phi=phi, warmup_steps=W, stable_steps=T - W)
    np.testing.assert_array_equal(cooldown.trunk_config(T, phi)(steps), trunk(steps))
    np.testing.assert_allclose(trunk(steps), multipliers("constant", T), atol=1e-15)
    for start, length in ((120, 20), (160, 40)):
        got = cooldown.branch_multipliers(f"uba-{phi:g}", T, start, length)
        np.testing.assert_array_equal(got, trunk.cooldown(start, length)(start + np.arange(length)))
    np.testing.assert_array_equal(cooldown.branch_multipliers(f"uba-{phi:g}", T, 160, 40), wsu(steps)[160:])
    # Re-budget: planned for T / 2, extended at T / 4 to T; against planned for T from the start.
    planned = UBAConfig(total_steps=T // 2, peak_lr=1.0, phi=phi, warmup_steps=warmup_steps(T // 2))
    extended = cooldown.multipliers(f"rebudget-uba-{phi:g}", T)
    np.testing.assert_array_equal(extended, planned.rebudget(T // 4, T)(steps))
    # Up to the re-budget, the planned curve (the knots' interpolation rounds differently).
    np.testing.assert_allclose(extended[: T // 4 + 1], planned(steps[: T // 4 + 1]), rtol=1e-14, atol=1e-15)
    assert extended[-1] > 0 and np.all(np.diff(extended[W:]) <= 0)
    np.testing.assert_array_equal(cooldown.multipliers(f"uba-{phi:g}", T), multipliers(f"uba-{phi:g}", T))


def test_cooldown_script_shares_protocol_and_imports_no_other_script() -> None:
    imported = imported_modules(BENCHMARKS / "cooldown.py")
    assert "protocol" in imported and not imported & {"budgeted", "suggested"}
    proc = script("cooldown.py", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: "), proc.stderr


# --- benchmarks/selector.py (issue 11) ---------------------------------------------------


def test_selector_script_shares_protocol_and_imports_no_other_script() -> None:
    imported = imported_modules(BENCHMARKS / "selector.py")
    assert "protocol" in imported and not imported & {"budgeted", "suggested", "cooldown"}
    proc = script("selector.py", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: "), proc.stderr


def test_fixed_lr_jobs_run_only_their_lr_and_are_not_extended(tmp_path) -> None:
    pytest.importorskip("tqdm")
    cell, seeds, lr = ("quadratic-k10", 100, "uba-8"), (0, 1), 0.123
    journal = tmp_path / "runs.jobs.jsonl"
    out = [{"val": 1.0, "test": 1.0, "curve": [0.0]}] * 2  # a one-lr "grid" is at both edges
    journal.write_text(json.dumps({"job": [*cell, lr, list(seeds)], "out": out, "seconds": 1.0}) + "\n")
    results: dict = {}
    run_jobs([cell], seeds, 1, journal, lambda job, o, s: results.__setitem__(job[:4], o), results,
             lrs=lambda c: [lr], extend=False)  # fmt: skip
    assert list(results) == [(*cell, lr)]


# --- benchmarks/budgeted.py's plots -------------------------------------------------------


def test_a_budgeted_plot_keeps_its_legend_off_the_curves_and_names_the_phis_left_out() -> None:
    framework("plot", "matplotlib")
    import budgeted
    import matplotlib.pyplot as plt

    record = json.loads((BENCHMARKS / "results" / "budgeted.json").read_text())
    schedules = tuple(record["schedules"])
    fig = budgeted.figure(record["summary"], "char-lm", 400, schedules)
    try:
        fig.canvas.draw()
        assert all(ax.get_legend() is None for ax in fig.axes)
        (legend,) = fig.legends
        assert not any(legend.get_window_extent().overlaps(ax.get_window_extent()) for ax in fig.axes)
        # "uba-0.25 (best phi): test 3.30 ± 0.02" names uba-0.25
        names = [text.get_text().split(":")[0].split(" ")[0] for text in legend.get_texts()]
        ubas = [s for s in schedules if s.startswith("uba-")]
        assert [n for n in names if n not in ubas] == [s for s in schedules if s not in ubas]  # every other one
        drawn = [n for n in names if n in ubas]
        left_out = [s.removeprefix("uba-") for s in ubas if s not in drawn]
        assert drawn and left_out
        assert f"(not drawn: phi = {', '.join(left_out)};" in fig.get_suptitle()
    finally:
        plt.close(fig)


def test_budgeted_replot_redraws_from_the_json_and_trains_nothing(tmp_path) -> None:
    framework("plot", "matplotlib")
    record = json.loads((BENCHMARKS / "results" / "budgeted.json").read_text())
    record["budgets"] = {"quadratic-k10": record["budgets"]["quadratic-k10"]}
    (tmp_path / "budgeted.json").write_text(json.dumps(record))
    proc = script("budgeted.py", "--replot", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budgeted-quadratic-k10.png", "budgeted.json"]
    assert (tmp_path / "budgeted-quadratic-k10.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
