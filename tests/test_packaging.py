"""Import hygiene, missing-framework errors and the uba CLI, each in a fresh process."""

from __future__ import annotations

import csv
import inspect
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _checkout import DEMO_OUTPUTS, copy_with_demo_outputs
from conftest import framework

import uba_core
import uba_core.experimental
from uba_core import DEFAULT_PHI, RestartConfig, UBAConfig, describe_phi
from uba_core._validation import EXTRAS, install_command

FRAMEWORKS = ("torch", "jax", "optax", "tensorflow", "keras", "matplotlib")


@pytest.fixture
def plotting() -> None:
    """Skip where matplotlib is absent (the numpy-only install), unless CI requires it."""
    framework("plot", "matplotlib")


def python(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; return the finished process."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.mark.parametrize(
    "name,module,entry",
    [
        ("torch", "uba_torch", "UBALR"),
        ("torch", "uba_torch", "UBAWarmRestarts"),
        ("jax", "uba_jax", "uba_decay_schedule"),
        ("jax", "uba_jax", "warmup_uba_decay_schedule"),
        ("jax", "uba_jax", "uba_sgdr_schedule"),
        ("tf", "uba_tf", "UBADecay"),
        ("tf", "uba_tf", "UBADecayRestarts"),
    ],
)
def test_every_adapter_defaults_to_the_core_default_phi(name: str, module: str, entry: str) -> None:
    adapter = framework(name, module)
    default = inspect.signature(getattr(adapter, entry)).parameters["phi"].default
    assert default == DEFAULT_PHI and type(default) is float


def test_importing_the_core_loads_no_framework() -> None:
    proc = python(f"""
        import sys
        import uba_core, uba_core.cli
        loaded = [m for m in {FRAMEWORKS!r} if m in sys.modules]
        print(",".join(loaded))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


@pytest.mark.parametrize(
    "adapter,module,extra",
    [
        ("uba_torch", "torch", "torch"),
        ("uba_jax", "jax", "jax"),
        ("uba_jax", "optax", "jax"),
        ("uba_tf", "keras", "tf"),
    ],
)
def test_a_missing_framework_names_the_pip_command(adapter: str, module: str, extra: str) -> None:
    proc = python(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r} or name.startswith({module!r} + "."):
                    raise ImportError("No module named " + repr(name))
        sys.meta_path.insert(0, Block())
        try:
            import {adapter}
        except ImportError as err:
            print(err)
            print(isinstance(err.__cause__, ImportError))
        else:
            print("imported")
    """)
    assert proc.returncode == 0, proc.stderr
    assert f"Install it with: {install_command(extra)}" in proc.stdout
    assert f"'{module}>=" in proc.stdout  # the command installs the missing framework itself
    assert proc.stdout.splitlines()[-1] == "True"  # raised from the original import error


def test_the_install_hints_match_the_declared_extras() -> None:
    from importlib.metadata import requires

    declared: dict[str, set[str]] = {}
    for line in requires("uba-schedule") or []:
        req, _, marker = line.partition(";")
        if "extra ==" in marker:
            extra = marker.split("extra ==")[1].strip().strip("'\"")
            declared.setdefault(extra, set()).add(req.strip().replace(" ", ""))
    for extra, reqs in EXTRAS.items():
        assert set(reqs) == declared[extra], extra


def test_the_sdist_holds_the_tracked_files_and_nothing_ignored(tmp_path) -> None:
    """`make demo` then `python -m build`: the sdist is the tracked files, whatever lies beside them."""
    pytest.importorskip("build")
    pytest.importorskip("setuptools")
    checkout, out = tmp_path / "checkout", tmp_path / "dist"
    tracked = set(copy_with_demo_outputs(checkout))
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), str(checkout)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    generated = {n for n in names if n in ("PKG-INFO", "setup.cfg") or n.startswith("uba_schedule.egg-info/")}
    assert "PKG-INFO" in generated
    assert not names & set(DEMO_OUTPUTS), sorted(names & set(DEMO_OUTPUTS))
    extra, missing = sorted(names - generated - tracked), sorted(tracked - names)
    assert not extra, f"the sdist holds files git does not track (exclude them in MANIFEST.in): {extra}"
    assert not missing, f"the sdist lacks tracked files (include them in MANIFEST.in): {missing}"


# --- the uba CLI -------------------------------------------------------------------------------

CURVE = ("curve", "--total-steps", "200", "--peak-lr", "0.5")
# Makes `import matplotlib` fail in the child, as it does where matplotlib is not installed.
NO_MATPLOTLIB = "import sys; sys.modules['matplotlib'] = None"


def uba(
    *args: str, flags: tuple[str, ...] = (), prelude: str | None = None, **kwargs: Any
) -> subprocess.CompletedProcess:
    """Run the ``uba`` command in a fresh interpreter (``python [flags] -m uba_core.cli``);
    with ``prelude``, run that code first in the same interpreter."""
    if prelude is None:
        cmd = [sys.executable, *flags, "-m", "uba_core.cli", *args]
    else:
        code = f"{prelude}\nfrom uba_core.cli import main\nsys.exit(main())"
        cmd = [sys.executable, *flags, "-c", code, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


def assert_clean_failure(proc: subprocess.CompletedProcess, status: int, message: str) -> None:
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_one_version_everywhere() -> None:
    from importlib.metadata import version

    proc = uba("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"uba {uba_core.__version__}"
    assert version("uba-schedule") == uba_core.__version__


def test_cli_curve_prints_the_core_values_and_writes_csv_and_png(tmp_path, plotting) -> None:
    png, table = tmp_path / "c.png", tmp_path / "c.csv"
    proc = uba(
        "curve",
        "--total-steps",
        "200",
        "--peak-lr",
        "0.5",
        "--min-lr",
        "0.01",
        "--warmup-steps",
        "10",
        "--phi",
        "0.5",
        "8",
        "--steps",
        "0",
        "5",
        "100",
        "199",
        "--png",
        str(png),
        "--csv",
        str(table),
    )
    assert proc.returncode == 0, proc.stderr
    cfgs = [UBAConfig(total_steps=200, peak_lr=0.5, phi=phi, min_lr=0.01, warmup_steps=10) for phi in (0.5, 8.0)]
    rows = [line.split() for line in proc.stdout.splitlines()[1:5]]
    for row in rows:
        step = int(row[0])
        np.testing.assert_allclose([float(x) for x in row[1:]], [c(step) for c in cfgs], rtol=1e-5)
    with open(table) as handle:
        data = list(csv.reader(handle))
    assert data[0] == ["step", "phi=0.5", "phi=8"] and len(data) == 202
    values = np.array(data[1:], dtype=float)
    np.testing.assert_array_equal(values[:, 0], np.arange(201))
    np.testing.assert_array_equal(values[:, 1], cfgs[0](values[:, 0]))
    np.testing.assert_array_equal(values[:, 2], cfgs[1](values[:, 0]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert proc.stdout.splitlines()[-2:] == [f"wrote {table}", f"wrote {png}"]


def test_cli_curve_draws_the_final_curve_of_a_stable_phase_and_rebudgets(tmp_path, plotting) -> None:
    png, table = tmp_path / "b.png", tmp_path / "b.csv"
    budget = ("--total-steps", "1000", "--peak-lr", "0.1", "--min-lr", "0.001", "--warmup-steps", "50")
    changes = ("--stable-steps", "500", "--rebudget", "800", "1500", "--rebudget", "1200", "1300")
    proc = uba("curve", *budget, *changes, "--phi", "2", "8", "--steps", "0", "700", "1200", "1299", "1300",
               "--png", str(png), "--csv", str(table))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cfgs = [
        UBAConfig(total_steps=1000, peak_lr=0.1, phi=phi, min_lr=0.001, warmup_steps=50, stable_steps=500)
        .rebudget(800, 1500)
        .rebudget(1200, 1300)
        for phi in (2.0, 8.0)
    ]
    assert cfgs[0].total_steps == 1300 and len(cfgs[0].rebudgets) == 2
    rows = [line.split() for line in proc.stdout.splitlines()[1:6]]
    assert [int(row[0]) for row in rows] == [0, 700, 1200, 1299, 1300]
    for row in rows:
        np.testing.assert_allclose([float(x) for x in row[1:]], [c(int(row[0])) for c in cfgs], rtol=1e-5)
    data = np.loadtxt(table, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(data[:, 0], np.arange(1301))  # over the final budget
    for column, cfg in enumerate(cfgs, start=1):
        np.testing.assert_array_equal(data[:, column], cfg(data[:, 0]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_rebudget_in_the_stable_phase_only_changes_the_total() -> None:
    proc = uba("curve", "--total-steps", "100", "--peak-lr", "1", "--stable-steps", "60", "--rebudget", "30", "160",
               "--steps", "60", "110", "160")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = [float(line.split()[1]) for line in proc.stdout.splitlines()[1:]]
    cosine = 0.5 * (1 + np.cos(np.pi * np.array([0, 50, 100]) / 100))  # the decay from 60 to 160
    np.testing.assert_allclose(got, cosine, rtol=1e-5, atol=1e-12)


def test_cli_curve_draws_warm_restarts(tmp_path, plotting) -> None:
    """--restart-steps 10 --restart-mult 2: cycles of 10, 20, 40 steps over --total-steps 70, for each
    phi; printed, written (every step) and plotted as the core's RestartConfig."""
    png, table = tmp_path / "r.png", tmp_path / "r.csv"
    proc = uba("curve", "--total-steps", "70", "--peak-lr", "0.1", "--min-lr", "0.001", "--phi", "2", "8",
               "--restart-steps", "10", "--restart-mult", "2", "--steps", "0", "5", "10", "29", "30", "70",
               "--png", str(png), "--csv", str(table))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cfgs = [RestartConfig(first_steps=10, peak_lr=0.1, min_lr=0.001, phi=phi, t_mul=2.0) for phi in (2.0, 8.0)]
    rows = [line.split() for line in proc.stdout.splitlines()[1:7]]
    assert [int(row[0]) for row in rows] == [0, 5, 10, 29, 30, 70]
    for row in rows:
        np.testing.assert_allclose([float(x) for x in row[1:]], [c(int(row[0])) for c in cfgs], rtol=1e-5)
    np.testing.assert_allclose([float(rows[i][1]) for i in (0, 2, 4, 5)], 0.1, rtol=1e-12)  # each restart
    data = np.loadtxt(table, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(data[:, 0], np.arange(71))
    for column, cfg in enumerate(cfgs, start=1):
        np.testing.assert_array_equal(data[:, column], cfg(data[:, 0]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_csv_is_written_in_blocks_with_every_step(tmp_path) -> None:
    table = tmp_path / "long.csv"
    total = 150_000  # more than two of the CLI's blocks
    proc = uba(
        "curve", "--total-steps", str(total), "--peak-lr", "1", "--phi", "4", "--steps", "0", "--csv", str(table)
    )
    assert proc.returncode == 0, proc.stderr
    data = np.loadtxt(table, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(data[:, 0], np.arange(total + 1))
    np.testing.assert_array_equal(data[:, 1], UBAConfig(total_steps=total, peak_lr=1.0, phi=4.0)(data[:, 0]))


def test_cli_reports_the_path_it_wrote(tmp_path, plotting) -> None:
    plot = tmp_path / "plot"  # no extension: still this file, and a PNG
    proc = uba(*CURVE, "--png", str(plot))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"wrote {plot}"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot"]


def test_cli_curve_without_phi_is_cosine() -> None:
    proc = uba("curve", "--total-steps", "100", "--peak-lr", "1", "--steps", "0", "25", "50", "100")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["step", "phi=2"]
    got = [float(line.split()[1]) for line in lines[1:5]]
    np.testing.assert_allclose(got, 0.5 * (1 + np.cos(np.pi * np.array([0, 25, 50, 100]) / 100)), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("flag,value,phi", [("--phi", "0.5", 0.5), ("--kappa", "50", 100.0), ("--phi", "2", 2.0)])
def test_cli_phi_describes_the_shape(flag: str, value: str, phi: float) -> None:
    proc = uba("phi", flag, value)
    assert proc.returncode == 0, proc.stderr
    shape = describe_phi(phi)
    assert f"kappa           {shape.kappa:g}" in proc.stdout
    assert shape.branch in proc.stdout
    assert f"{shape.mean_lr_factor:.6g}" in proc.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["phi", "--phi", "0"], "Argument `--phi` must be > 0. Received: --phi=0.0"),
        (["phi", "--phi", "inf"], "`--phi` must be finite"),
        (["phi", "--kappa", "0.5"], "Argument `--kappa` must be >= 1.0. Received: --kappa=0.5"),
        (["phi", "--kappa", "1e400"], "`--kappa` must be finite"),
        (["phi"], "one of the arguments --phi --kappa is required"),
        (["suggest-phi", "--task", "quadratic-k10", "--total-steps", "300"], "invalid choice: 'suggest-phi'"),
        (["curve", "--total-steps", "0", "--peak-lr", "1", "--phi", "2"], "`--total-steps` must be >= 1"),
        (
            ["curve", "--total-steps", "10", "--peak-lr", "1", "--phi", "2", "--min-lr", "-3"],
            "`--min-lr` must be >= 0.0",
        ),
        (["curve", "--total-steps", "10", "--peak-lr", "1", "--phi", "nan"], "`--phi` must be finite"),
        (["curve", "--total-steps", "10", "--peak-lr", "1e400"], "`--peak-lr` must be finite"),
        (
            ["curve", "--total-steps", "10", "--peak-lr", "1", "--warmup-steps", "10"],
            "`--warmup-steps` must be < `--total-steps`",
        ),
        (["curve", "--total-steps", "ten", "--peak-lr", "1", "--phi", "2"], "invalid int value"),
        (
            ["curve", "--total-steps", "10", "--peak-lr", "1", "--phi", "2", "--steps", "-1"],
            "`--steps` must be >= 0. Received: --steps=-1",
        ),
        # Too large: steps are evaluated in float64, exact up to 2**53.
        (["curve", "--total-steps", str(2**53 + 1), "--peak-lr", "1"], f"`--total-steps` must be <= 2**53 = {2**53}"),
        (["curve", "--total-steps", "10" * 20, "--peak-lr", "1", "--steps", "0"], "`--total-steps` must be <= 2**53"),
        (
            ["curve", "--total-steps", "10", "--peak-lr", "1", "--steps", "0", str(2**64)],
            f"`--steps` must be <= 2**53 = {2**53} (steps are evaluated in float64",
        ),
        (
            ["curve", "--total-steps", str(10**7 + 1), "--peak-lr", "1", "--csv", "never.csv"],
            "`--total-steps` must be <= 10000000 with --csv",
        ),
        # the stable phase and re-budgets
        ([*CURVE, "--stable-steps", "-1"], "`--stable-steps` must be >= 0. Received: --stable-steps=-1"),
        ([*CURVE, "--stable-steps", "1.5"], "argument --stable-steps: invalid int value: '1.5'"),
        ([*CURVE, "--stable-steps", "200"], "`--stable-steps` must be < `--total-steps`"),
        (
            [*CURVE, "--warmup-steps", "100", "--stable-steps", "100"],
            "`--warmup-steps` + `--stable-steps` must be < `--total-steps` (the decay needs at least one step). "
            "Received: --warmup-steps=100, --stable-steps=100, --total-steps=200.",
        ),
        ([*CURVE, "--rebudget", "50"], "argument --rebudget: expected 2 arguments"),
        ([*CURVE, "--rebudget", "50", "x"], "argument --rebudget: invalid int value: 'x'"),
        ([*CURVE, "--rebudget", "-1", "300"], "`--rebudget` STEP must be >= 0. Received: --rebudget -1 300."),
        ([*CURVE, "--rebudget", "50", "50"], "`--rebudget` TOTAL must be > STEP (the new budget continues after it)"),
        ([*CURVE, "--rebudget", "50", "40"], "`--rebudget` TOTAL must be > STEP"),
        (
            [*CURVE, "--rebudget", "200", "300"],
            "`--rebudget` STEP must be < the budget it changes, 200 (the schedule is at its floor from there on). "
            "Received: --rebudget 200 300.",
        ),
        (
            [*CURVE, "--rebudget", "150", "300", "--rebudget", "300", "400"],  # past the first one's new end
            "`--rebudget` STEP must be < the budget it changes, 300",
        ),
        (
            [*CURVE, "--stable-steps", "100", "--rebudget", "50", "80"],
            "`--rebudget` TOTAL must be > --warmup-steps + --stable-steps = 100 (the decay needs at least one step)",
        ),
        ([*CURVE, "--rebudget", "50", str(2**53 + 1)], f"`--rebudget` TOTAL must be <= 2**53 = {2**53}"),
        # warm restarts
        ([*CURVE, "--restart-steps", "0"], "`--restart-steps` must be >= 1. Received: --restart-steps=0"),
        ([*CURVE, "--restart-steps", "10", "--restart-mult", "0"], "`--restart-mult` must be > 0"),
        ([*CURVE, "--restart-mult", "2"], "`--restart-mult` needs --restart-steps. Received: --restart-mult=2.0."),
        (
            [*CURVE, "--restart-steps", "10", "--warmup-steps", "5"],
            "`--warmup-steps` cannot be combined with --restart-steps",
        ),
        ([*CURVE, "--restart-steps", "10", "--rebudget", "50", "300"], "`--rebudget` cannot be combined"),
        (
            [*CURVE, "--rebudget", "50", str(10**7 + 1), "--csv", "never.csv"],
            f"`--rebudget` TOTAL (the final budget) must be <= 10000000 with --csv (a row per step). "
            f"Received: --rebudget 50 {10**7 + 1}.",
        ),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_message_before_any_output(args: list[str], message: str, tmp_path) -> None:
    proc = uba(*args, cwd=tmp_path)
    assert_clean_failure(proc, 2, message)
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def unwritable(tmp_path, kind: str, name: str):
    """A path that no one can write, as root neither: ``kind`` says why."""
    if kind == "under-a-file":
        (tmp_path / "file").write_text("not a folder")
        return tmp_path / "file" / name
    if kind == "missing-folder":
        return tmp_path / "missing" / name
    return tmp_path  # a folder


@pytest.mark.parametrize("kind", ["under-a-file", "missing-folder", "a-folder"])
@pytest.mark.parametrize("flag", ["--csv", "--png"])
def test_cli_an_unwritable_path_exits_1_with_a_message(tmp_path, flag: str, kind: str) -> None:
    if flag == "--png":
        framework("plot", "matplotlib")
    path = unwritable(tmp_path, kind, "out" + flag.replace("--", "."))
    before = sorted(tmp_path.rglob("*"))
    proc = uba(*CURVE, flag, str(path))
    assert_clean_failure(proc, 1, f"uba curve: error: cannot write {flag} {str(path)!r}: ")
    assert proc.stdout == ""  # found before the curve is printed, not after
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("bad", ["--csv", "--png"])
def test_cli_an_unwritable_path_leaves_the_other_output_unwritten(tmp_path, plotting, bad: str) -> None:
    (tmp_path / "old.csv").write_text("kept as it was\n")
    paths = {"--csv": str(tmp_path / "old.csv"), "--png": str(tmp_path / "new.png")}
    paths[bad] = str(tmp_path / "missing" / "out")
    proc = uba(*CURVE, "--csv", paths["--csv"], "--png", paths["--png"])
    assert_clean_failure(proc, 1, f"cannot write {bad} {paths[bad]!r}: ")
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]  # the probe of new.png removed it again
    assert (tmp_path / "old.csv").read_text() == "kept as it was\n"


def test_cli_a_writable_path_that_exists_is_overwritten(tmp_path) -> None:
    table = tmp_path / "c.csv"
    table.write_text("an old table that is longer than the new one\n" * 1000)
    proc = uba("curve", "--total-steps", "3", "--peak-lr", "1", "--csv", str(table))
    assert proc.returncode == 0, proc.stderr
    assert table.read_text().splitlines()[0] == "step,phi=2" and len(table.read_text().splitlines()) == 5


def test_cli_png_without_matplotlib_exits_1_before_any_output(tmp_path) -> None:
    png, table = tmp_path / "c.png", tmp_path / "c.csv"
    proc = uba(*CURVE, "--png", str(png), "--csv", str(table), prelude=NO_MATPLOTLIB)
    assert_clean_failure(proc, 1, "--png needs matplotlib, which could not be imported")
    assert f"Install it with: {install_command('plot')}" in proc.stderr
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_cli_without_matplotlib_still_prints_and_writes_csv(tmp_path) -> None:
    proc = uba(*CURVE, "--csv", str(tmp_path / "c.csv"), prelude=NO_MATPLOTLIB)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c.csv").is_file()


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--help"], "Print and plot UBA learning-rate curves"),
        (["curve", "--help"], "Limits: --total-steps, TOTAL and --steps up to 2**53"),
        (["phi", "--phi", "8"], "kappa           4"),
        (["curve", "--total-steps", "100", "--peak-lr", "1", "--steps", "50"], "0.5"),
    ],
)
def test_cli_works_under_python_OO(args: list[str], expected: str) -> None:
    proc = uba(*args, flags=("-OO",))
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout


def test_printing_a_few_steps_of_a_huge_budget_allocates_no_curve() -> None:
    pytest.importorskip("resource")  # POSIX
    limit = 512 * 2**20  # bytes of address space; the steps of the whole curve alone are 763 MiB
    # The child caps itself before it imports numpy: a preexec_fn would run Python code in
    # a fork of this process, whose threads (JAX's) make that unsafe.
    cap = f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # no per-thread buffers
    whole = python(f"{cap}\nimport numpy; numpy.arange(100_000_001)", env=env)
    assert whole.returncode != 0 and "MemoryError" in whole.stderr  # the cap holds
    proc = uba("curve", "--total-steps", "100000000", "--peak-lr", "1", "--steps", "0", "1", prelude=cap, env=env)
    assert proc.returncode == 0, proc.stderr
    assert [line.split() for line in proc.stdout.splitlines()[1:]] == [["0", "1"], ["1", "1"]]


def test_plotting_a_huge_budget_draws_a_bounded_number_of_steps(tmp_path, plotting) -> None:
    png = tmp_path / "huge.png"  # 10**12 steps: the whole curve would be 8 TB
    proc = uba(
        "curve",
        "--total-steps",
        str(10**12),
        "--peak-lr",
        "1",
        "--warmup-steps",
        "1000",
        "--steps",
        "0",
        "--png",
        str(png),
    )
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_printing_a_few_steps_of_a_huge_budget_builds_no_whole_curve(capsys) -> None:
    import tracemalloc

    from uba_core.cli import main

    tracemalloc.start()
    try:
        assert main(["curve", "--total-steps", "100000000", "--peak-lr", "1", "--steps", "0", "1"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10**7, peak  # the whole curve would be 8e8 bytes
    assert capsys.readouterr().out.splitlines()[1].split() == ["0", "1"]


@pytest.mark.parametrize(
    "args", [["curve", "--total-steps", "10", "--peak-lr", "1", "--steps", "5"], ["phi", "--phi", "8"], ["--help"]]
)
def test_the_cli_runs_nothing_from_the_working_folder(tmp_path, args: list[str]) -> None:
    # The benchmark tasks the old `uba suggest-phi` executed from ./benchmarks: a trap now.
    (tmp_path / "benchmarks").mkdir()
    for path in (tmp_path / "benchmarks" / "tasks.py", tmp_path / "tasks.py"):
        path.write_text("raise SystemExit('tasks.py was run')\n")
    proc = uba(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


# --- uba select-phi ----------------------------------------------------------------------------


def law_log(path, lrs: np.ndarray, *, noise: float = 0.0, seed: int = 0) -> None:
    """A pilot CSV whose losses follow L = 2 + 3 S1^-0.4 - 5 S2 (momentum half-life 4 steps),
    the areas summed here directly from the rates (independently of uba_core)."""
    decay = 0.5 ** (1 / 4)
    rng = np.random.default_rng(seed)
    rows, s1, s2, m = [], 0.0, 0.0, 0.0
    for k, lr in enumerate(lrs):
        loss = 2.0 + 3.0 * s1**-0.4 - 5.0 * s2 if s1 > 0 else 9.0
        rows.append(f"{k},{float(lr)!r},{float(loss + noise * rng.standard_normal())!r},ignored")
        m = decay * m + max((lrs[k - 1] - lr) if k else 0.0, 0.0)
        s1, s2 = s1 + lr, s2 + m
    path.write_text("step,lr,loss,other\n" + "\n".join(rows) + "\n")


PILOT = 50


@pytest.fixture
def pilots(tmp_path):
    peak, t = 0.1, np.arange(PILOT)
    constant = np.where(t < 5, peak * t / 5, peak)
    cosine = np.where(t < 5, peak * t / 5, peak * (1 + np.cos(np.pi * (t - 5) / (PILOT - 5))) / 2)
    law_log(tmp_path / "constant.csv", constant)
    law_log(tmp_path / "cosine.csv", cosine)
    return [str(tmp_path / "constant.csv"), str(tmp_path / "cosine.csv")]


SELECT = ("--total-steps", "200", "--peak-lr", "0.1", "--warmup-steps", "10")


def test_cli_select_phi_prints_the_library_report_and_plots(pilots, tmp_path, plotting) -> None:
    png = tmp_path / "predicted.png"
    proc = uba("select-phi", "--log", pilots[0], "--log", pilots[1], *SELECT, "--png", str(png))
    assert proc.returncode == 0, proc.stderr
    logs = []
    for path in pilots:
        table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2))
        logs.append((table[:, 0], table[:, 1], table[:, 2]))
    law = uba_core.experimental.AnnealingLaw.fit(logs, skip_steps=5)  # the default: the steps before the peak lr
    assert abs(law.alpha - 0.4) < 0.01 and abs(law.C - 5.0) < 0.05  # the generator's law
    report = uba_core.experimental.select_phi(law, 200, peak_lr=0.1, warmup_steps=10)
    assert proc.stdout.splitlines()[0] == str(report).splitlines()[0]
    for cand in report.candidates:
        assert f"phi = {cand.phi:<6g}" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda p: p.write_text("step,rate,loss\n0,0.1,2.0\n"),
            "must have a header with the columns step, lr and loss",
        ),
        (
            lambda p: p.write_text("step,lr,loss\n0,0.1,2.0\n1,0.1,abc\n"),
            "must hold numbers in step, lr and loss: line 3: could not convert string to float: 'abc'",
        ),
        (
            lambda p: p.write_text("step,lr,loss,other\n0,0.1,2.0,x\n1,0.1,1.9,x\n\n2,0.1\n"),
            "must have a value in step, lr and loss on every row: line 5 has 2 fields where the header has 4. "
            "Received: line 5 = ['2', '0.1'].",
        ),
        (lambda p: p.write_text("step,lr,loss\n"), "has no rows"),
        (lambda p: p.write_text("step,lr,loss\n0,0.1,2\n1,0.1,1.9\n2,0.05,1.8\n"), "is too short"),
        (lambda p: p.write_text("step,lr,loss\n" + "".join(f"{k},0.1,nan\n" for k in range(20))), "finite loss"),
    ],
)
def test_cli_select_phi_bad_logs_exit_2_naming_the_file(pilots, change, message: str) -> None:
    change(Path(pilots[1]))
    proc = uba("select-phi", "--log", pilots[0], "--log", pilots[1], *SELECT)
    assert_clean_failure(proc, 2, message)
    assert "`--log`" in proc.stderr
    assert proc.stdout == ""


def test_cli_select_phi_argument_errors(pilots, tmp_path) -> None:
    only_constant = uba("select-phi", "--log", pilots[0], *SELECT)
    assert_clean_failure(only_constant, 2, "Argument `--log` must contain a run whose rate decays")
    bad_peak = uba("select-phi", "--log", pilots[0], "--log", pilots[1], *SELECT[:2], "--peak-lr", "-1")
    assert_clean_failure(bad_peak, 2, "Argument `--peak-lr` must be > 0. Received: --peak-lr=-1.0")
    missing = uba("select-phi", "--log", str(tmp_path / "none.csv"), *SELECT)
    assert_clean_failure(missing, 1, f"cannot read --log {str(tmp_path / 'none.csv')!r}")


def test_cli_select_phi_checks_its_png_path_before_fitting(pilots, tmp_path, plotting) -> None:
    png = tmp_path / "missing" / "predicted.png"
    proc = uba("select-phi", "--log", pilots[0], "--log", pilots[1], *SELECT, "--png", str(png))
    assert_clean_failure(proc, 1, f"uba select-phi: error: cannot write --png {str(png)!r}: ")
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--z", "-1"], "Argument `--z` must be >= 0.0. Received: --z=-1.0"),
        (["--min-lr", "0.2"], "Argument `--min-lr` must be < --peak-lr = 0.1. Received: --min-lr=0.2"),
        (["--warmup-steps", "200"], "Argument `--warmup-steps` must be < --total-steps = 200"),
        (["--skip-steps", "-2"], "Argument `--skip-steps` must be >= 0. Received: --skip-steps=-2"),
        (["--total-steps", str(10**12)], "Argument `--total-steps` must be <= 10000000"),
    ],
)
def test_cli_select_phi_checks_its_flags_before_reading_any_log(tmp_path, flags: list[str], message: str) -> None:
    proc = uba("select-phi", "--log", str(tmp_path / "missing.csv"), *SELECT, *flags)  # unread: else exit 1
    assert_clean_failure(proc, 2, message)


def test_cli_select_phi_reads_a_spreadsheets_csv_with_a_byte_order_mark(pilots) -> None:
    for path in pilots:
        Path(path).write_text("\ufeff" + Path(path).read_text(), encoding="utf-8")
    proc = uba("select-phi", "--log", pilots[0], "--log", pilots[1], *SELECT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("phi for a budget of 200 steps")


def test_cli_select_phi_refuses_a_peak_lr_other_than_the_pilots(pilots) -> None:
    proc = uba("select-phi", "--log", pilots[0], "--log", pilots[1], *SELECT[:2], "--peak-lr", "0.3")
    assert_clean_failure(proc, 2, "Argument `--peak-lr` must be the pilots' peak lr, 0.1")
    assert "Received: --peak-lr=0.3" in proc.stderr
