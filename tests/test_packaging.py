"""Import hygiene, missing-framework errors and the uba CLI, each in a fresh process."""

from __future__ import annotations

import csv
import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import framework
import uba_core
from uba_core import DEFAULT_PHI, UBAConfig, describe_phi
from uba_core._validation import EXTRAS, install_command

FRAMEWORKS = ("torch", "jax", "optax", "tensorflow", "keras", "matplotlib")


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; return the finished process."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name,module,entry", [
    ("torch", "uba_torch", "UBALR"),
    ("jax", "uba_jax", "uba_decay_schedule"),
    ("jax", "uba_jax", "warmup_uba_decay_schedule"),
    ("tf", "uba_tf", "UBADecay"),
])
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


@pytest.mark.parametrize("adapter,module,extra", [
    ("uba_torch", "torch", "torch"),
    ("uba_jax", "jax", "jax"),
    ("uba_jax", "optax", "jax"),
    ("uba_tf", "keras", "tf"),
])
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
            print(type(err.__cause__).__name__)
        else:
            print("imported")
    """)
    assert proc.returncode == 0, proc.stderr
    assert f"Install it with: {install_command(extra)}" in proc.stdout
    assert f"'{module}>=" in proc.stdout  # the command installs the missing framework itself
    assert "ImportError" in proc.stdout.splitlines()[-1]  # raised from the original error


def uba(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uba_core.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_curve_prints_the_core_values_and_writes_csv_and_png(tmp_path) -> None:
    png, table = tmp_path / "c.png", tmp_path / "c.csv"
    proc = uba("curve", "--total-steps", "200", "--peak-lr", "0.5", "--min-lr", "0.01",
               "--warmup-steps", "10", "--phi", "0.5", "8", "--steps", "0", "5", "100", "199",
               "--png", str(png), "--csv", str(table))
    assert proc.returncode == 0, proc.stderr
    cfgs = [UBAConfig(total_steps=200, peak_lr=0.5, phi=phi, min_lr=0.01, warmup_steps=10)
            for phi in (0.5, 8.0)]
    rows = [line.split() for line in proc.stdout.splitlines()[1:5]]
    for row in rows:
        step = int(row[0])
        np.testing.assert_allclose([float(x) for x in row[1:]], [c(step) for c in cfgs], rtol=1e-5)
    with open(table) as handle:
        data = list(csv.reader(handle))
    assert data[0] == ["step", "phi=0.5", "phi=8"] and len(data) == 202
    values = np.array(data[1:], dtype=float)
    np.testing.assert_array_equal(values[:, 1], cfgs[0](values[:, 0]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_cli_curve_without_phi_is_cosine() -> None:
    proc = uba("curve", "--total-steps", "100", "--peak-lr", "1", "--steps", "0", "25", "50", "100")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["step", "phi=2"]
    got = [float(line.split()[1]) for line in lines[1:5]]
    np.testing.assert_allclose(got, 0.5 * (1 + np.cos(np.pi * np.array([0, 25, 50, 100]) / 100)),
                               rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("flag,value,phi", [("--phi", "0.5", 0.5), ("--kappa", "50", 100.0),
                                            ("--phi", "2", 2.0)])
def test_cli_phi_describes_the_shape(flag: str, value: str, phi: float) -> None:
    proc = uba("phi", flag, value)
    assert proc.returncode == 0, proc.stderr
    shape = describe_phi(phi)
    assert f"kappa           {shape.kappa:g}" in proc.stdout
    assert shape.branch in proc.stdout
    assert f"{shape.mean_lr_factor:.6g}" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["phi", "--phi", "0"], "`phi` must be > 0"),
    (["phi", "--kappa", "0.5"], "`kappa` must be >= 1"),
    (["phi"], "one of the arguments --phi --kappa is required"),
    (["curve", "--total-steps", "0", "--peak-lr", "1", "--phi", "2"], "`--total-steps` must be >= 1"),
    (["curve", "--total-steps", "10", "--peak-lr", "1", "--phi", "2", "--min-lr", "-3"],
     "`--min-lr` must be >= 0.0"),
    (["curve", "--total-steps", "10", "--peak-lr", "1", "--phi", "nan"], "`--phi` must be finite"),
    (["curve", "--total-steps", "ten", "--peak-lr", "1", "--phi", "2"], "invalid int value"),
    (["curve", "--total-steps", "10", "--peak-lr", "1", "--phi", "2", "--steps", "-1"], "`--steps`"),
])
def test_cli_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    proc = uba(*args)
    assert proc.returncode == 2
    assert message in proc.stderr


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


def test_one_version_everywhere() -> None:
    from importlib.metadata import version

    proc = uba("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"uba {uba_core.__version__}"
    assert version("uba-schedule") == uba_core.__version__


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
