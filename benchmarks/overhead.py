"""Cost of UBA against each framework's own cosine schedule, measured side by side.

Every row times A (UBA) and B (the framework's cosine) alternately in one process,
after a warm-up, and reports the median of the per-repeat ratios A / B with the
spread (min and max ratio over the repeats). Every timed run also checks that the
curve it produced is the core's.

    python benchmarks/overhead.py                 # all rows, 9 repeats
    python benchmarks/overhead.py --only torch core --repeats 15
    python benchmarks/overhead.py --only torch-tensor-lr   # the rows with a tensor lr alone

Writes benchmarks/results/overhead.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from uba_core import UBAConfig

RESULTS = Path(__file__).resolve().parent / "results"
ROWS: list[dict] = []


def side_by_side(
    name: str, uba: Callable[[], float], cosine: Callable[[], float], repeats: int, unit: str, **extra
) -> dict:
    """Time ``uba`` and ``cosine`` alternately; each returns its own cost per unit.

    One warm-up call each, then ``repeats`` rounds, the order flipped every round.
    """
    uba(), cosine()
    a, b = [], []
    for i in range(repeats):
        if i % 2:
            b.append(cosine())
            a.append(uba())
        else:
            a.append(uba())
            b.append(cosine())
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    row = {
        "row": name,
        "unit": unit,
        "uba": statistics.median(a),
        "cosine": statistics.median(b),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "repeats": repeats,
        **extra,
    }
    ROWS.append(row)
    print(f"  {name}: ratio {row['ratio']:.3f} [{row['ratio_min']:.3f}, {row['ratio_max']:.3f}]", flush=True)
    return row


def per_call(fn: Callable[[], None], calls: int) -> float:
    """Wall time of ``calls`` calls of ``fn`` divided by ``calls``, in microseconds."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def scheduler_only(make: Callable, lr, calls: int) -> Callable[[], float]:
    """A timer of ``calls`` steps of the scheduler ``make(optimizer)`` alone, on an SGD of lr ``lr``
    (a float or a tensor) over one parameter."""
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make(opt)
    opt.step()
    return lambda: per_call(sched.step, calls)


def assert_curve(name: str, got, cfg: UBAConfig, steps, float32: bool) -> None:
    """The rates a timed run produced must be the core's (float32 within 1e-6 relative)."""
    got = np.asarray(got, dtype=np.float64)
    want = cfg(np.asarray(steps))
    scale = max(cfg.peak_lr, cfg.warmup_start_lr)
    tol = dict(rtol=1e-6, atol=1e-6 * scale) if float32 else dict(rtol=0, atol=0)
    np.testing.assert_allclose(got, want, **tol, err_msg=f"{name}: curve differs from the core")


# --- core -------------------------------------------------------------------------------


def bench_core(repeats: int) -> None:
    # What a user runs on the whole curve (to plot or export it): UBAConfig called on
    # every step of a long budget, against the same cosine schedule written in numpy.
    n = 10**6
    for label, warm in (("no warmup", 0), ("warmup 1%", n // 100)):
        core_row(label, n, warm, repeats)


def core_row(label: str, n: int, warm: int, repeats: int) -> None:
    steps = np.arange(n, dtype=np.float64)
    cfg = UBAConfig(total_steps=n, peak_lr=0.1, phi=4.0, min_lr=1e-4, warmup_steps=warm)
    out = {}

    def uba() -> float:
        start = time.perf_counter()
        out["lr"] = cfg(steps)
        return (time.perf_counter() - start) / n * 1e9

    def numpy_cosine() -> float:
        start = time.perf_counter()
        p = np.clip((steps - warm) / (n - warm), 0.0, 1.0)
        lr = 1e-4 + (0.1 - 1e-4) * 0.5 * (1.0 + np.cos(np.pi * p))
        np.where(steps < warm, 0.1 * steps / max(warm, 1), lr)
        return (time.perf_counter() - start) / n * 1e9

    side_by_side(
        f"core: UBAConfig on 10^6 steps ({label}) vs a numpy cosine schedule", uba, numpy_cosine, repeats, "ns/step"
    )
    assert_curve("core", out["lr"][:: n // 1000], cfg, steps[:: n // 1000], float32=False)


# --- torch ------------------------------------------------------------------------------


def bench_torch(repeats: int) -> None:
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR

    from uba_torch import UBALR

    torch.manual_seed(0)
    T = 200_000
    cfg = UBAConfig(total_steps=T, peak_lr=0.1, phi=2.0)

    side_by_side(
        "torch: scheduler.step() alone",
        scheduler_only(lambda o: UBALR(o, T_max=T, phi=4.0), 0.1, 5000),
        scheduler_only(lambda o: CosineAnnealingLR(o, T_max=T), 0.1, 5000),
        repeats,
        "us/step",
    )

    x, y = torch.randn(256, 64), torch.randint(0, 10, (256,))

    def training(make) -> tuple[Callable[[], float], list]:
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 10),
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = make(opt)
        used: list[float] = []

        def step() -> None:
            used.append(opt.param_groups[0]["lr"])
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()

        return (lambda: per_call(step, 200)), used

    uba_run, uba_used = training(lambda o: UBALR(o, T_max=T, phi=2.0))
    cos_run, _ = training(lambda o: CosineAnnealingLR(o, T_max=T))
    side_by_side("torch: MLP training step (fwd, bwd, SGD, scheduler)", uba_run, cos_run, repeats, "us/step")
    assert_curve("torch training", uba_used, cfg, np.arange(len(uba_used)), float32=False)

    # A tensor lr under torch.compile: the scheduler writes into the tensor, no recompiles.
    from torch._dynamo.utils import counters

    def compiled(make) -> tuple[Callable[[], float], list, dict]:
        model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
        opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))
        sched = make(opt)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)

        @torch.compile(fullgraph=False)
        def opt_step() -> None:
            opt.step()

        used: list[float] = []
        info = {}

        def step() -> None:
            used.append(float(opt.param_groups[0]["lr"]))
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt_step()
            sched.step()

        before = counters["stats"]["unique_graphs"]
        start = time.perf_counter()
        step()
        info["compile_s"] = time.perf_counter() - start
        info["graphs_first"] = counters["stats"]["unique_graphs"] - before
        mark = counters["stats"]["unique_graphs"]
        for _ in range(30):  # through the lr changes of the first steps
            step()
        info["graphs_after"] = counters["stats"]["unique_graphs"] - mark
        return (lambda: per_call(step, 100)), used, info

    uba_run, uba_used, uba_info = compiled(lambda o: UBALR(o, T_max=T, phi=2.0, peak_lr=0.01))
    cos_run, _, cos_info = compiled(lambda o: CosineAnnealingLR(o, T_max=T))
    row = side_by_side("torch.compile: Adam step with a tensor lr", uba_run, cos_run, repeats, "us/step")
    row["recompiles_after_first_uba"] = uba_info["graphs_after"]
    row["recompiles_after_first_cosine"] = cos_info["graphs_after"]
    row["compile_s_uba"], row["compile_s_cosine"] = uba_info["compile_s"], cos_info["compile_s"]
    print(
        f"    recompilations after the first step: UBA {row['recompiles_after_first_uba']}, "
        f"cosine {row['recompiles_after_first_cosine']}"
    )
    assert row["recompiles_after_first_uba"] == 0, "UBALR caused a recompilation"
    cfg_c = UBAConfig(total_steps=T, peak_lr=0.01, phi=2.0)
    np.testing.assert_allclose(uba_used, cfg_c(np.arange(len(uba_used))), rtol=1e-6)


def bench_torch_tensor_lr(repeats: int) -> None:
    # One thread: on a shared machine a step that waits for a second core times the
    # neighbours, not the schedulers.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tensor_lr_rows(repeats)
    finally:
        torch.set_num_threads(threads)


def tensor_lr_rows(repeats: int) -> None:
    # A tensor lr is the way to keep a compiled (or CUDA-graph captured) optimizer step from
    # recompiling as the lr changes; both schedulers then update it with tensor ops.
    import torch
    from torch._dynamo.utils import counters
    from torch.optim.lr_scheduler import CosineAnnealingLR

    from uba_torch import UBALR

    torch.manual_seed(0)
    T, peak = 200_000, 0.01

    side_by_side(
        "torch: scheduler.step() alone, tensor lr (CPU)",
        scheduler_only(lambda o: UBALR(o, T_max=T, phi=4.0), torch.tensor(peak), 2000),
        scheduler_only(lambda o: CosineAnnealingLR(o, T_max=T), torch.tensor(peak), 2000),
        repeats,
        "us/step",
    )

    # A capturable Adam, compiled, with the scheduler writing into its tensor lr.
    x, y = torch.randn(256, 64), torch.randint(0, 10, (256,))

    def compiled(make) -> tuple[Callable[[], float], list, dict]:
        model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
        lr = torch.tensor(peak)
        opt = torch.optim.Adam(model.parameters(), lr=lr, capturable=True)
        sched = make(opt)

        @torch.compile(fullgraph=False)
        def opt_step() -> None:
            opt.step()

        used: list = []  # copies of the lr tensor, read after the timing (a read is a sync)

        def step() -> None:
            used.append(lr.clone())
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt_step()
            sched.step()

        info = {}
        start = time.perf_counter()
        step()
        info["compile_s"] = time.perf_counter() - start
        mark = counters["stats"]["unique_graphs"]
        for _ in range(1000):
            step()
        info["recompiles"] = counters["stats"]["unique_graphs"] - mark
        return (lambda: 1e6 / per_call(step, 100)), used, info

    uba_run, uba_used, uba_info = compiled(lambda o: UBALR(o, T_max=T, phi=2.0))
    cos_run, _, cos_info = compiled(lambda o: CosineAnnealingLR(o, T_max=T))
    row = side_by_side(
        "torch.compile: capturable Adam step with a tensor lr (CPU)", uba_run, cos_run, repeats, "steps/s"
    )
    row["recompiles_in_1000_steps_uba"] = uba_info["recompiles"]
    row["recompiles_in_1000_steps_cosine"] = cos_info["recompiles"]
    row["compile_s_uba"], row["compile_s_cosine"] = uba_info["compile_s"], cos_info["compile_s"]
    recompiles = f"UBA {uba_info['recompiles']}, cosine {cos_info['recompiles']}"
    print(f"    recompiles in the 1000 steps after the first: {recompiles}")
    assert uba_info["recompiles"] == 0, "UBALR caused a recompilation"
    cfg = UBAConfig(total_steps=T, peak_lr=float(torch.tensor(peak)), phi=2.0)
    assert_curve("torch capturable", [float(v) for v in uba_used], cfg, np.arange(len(uba_used)), float32=True)


# --- optax ------------------------------------------------------------------------------


def bench_optax(repeats: int) -> None:
    import jax
    import jax.numpy as jnp
    import optax

    import uba_jax

    T, W = 100_000, 1000
    cfg = UBAConfig(total_steps=T, peak_lr=1e-3, phi=2.0, min_lr=1e-5, warmup_steps=W)
    key = jax.random.PRNGKey(0)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = {
        "w1": jax.random.normal(k1, (64, 256)) * 0.1,
        "b1": jnp.zeros(256),
        "w2": jax.random.normal(k2, (256, 10)) * 0.1,
        "b2": jnp.zeros(10),
    }
    x, y = jax.random.normal(k3, (256, 64)), jax.random.randint(k4, (256,), 0, 10)

    def loss_fn(p):
        logits = jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def setup(schedule) -> tuple[Callable[[], float], dict]:
        opt = optax.inject_hyperparams(optax.adamw)(learning_rate=schedule)
        state = {"p": params, "s": opt.init(params)}

        @jax.jit
        def step(p, s):
            grads = jax.grad(loss_fn)(p)
            updates, s = opt.update(grads, s, p)
            return optax.apply_updates(p, updates), s

        start = time.perf_counter()
        jax.block_until_ready(step.lower(state["p"], state["s"]).compile())
        info = {"compile_s": time.perf_counter() - start, "lrs": []}

        def run() -> float:
            start = time.perf_counter()
            for _ in range(200):
                state["p"], state["s"] = step(state["p"], state["s"])
                # inject_hyperparams stores the value the update just used.
                info["lrs"].append(state["s"].hyperparams["learning_rate"])
            jax.block_until_ready(state["p"])
            return (time.perf_counter() - start) / 200 * 1e6

        return run, info

    uba_run, uba_info = setup(uba_jax.from_uba_config(cfg))
    cos_run, cos_info = setup(optax.warmup_cosine_decay_schedule(0.0, 1e-3, W, T, end_value=1e-5))
    row = side_by_side("optax: jitted adamw MLP step", uba_run, cos_run, repeats, "us/step")
    row["compile_s_uba"], row["compile_s_cosine"] = uba_info["compile_s"], cos_info["compile_s"]
    print(f"    compile: UBA {uba_info['compile_s']:.2f} s, cosine {cos_info['compile_s']:.2f} s")
    lrs = [float(v) for v in uba_info["lrs"]]
    assert_curve("optax", lrs, cfg, np.arange(len(lrs)), float32=True)


# --- keras ------------------------------------------------------------------------------


def bench_keras(repeats: int) -> None:
    import keras

    from uba_tf import UBADecay

    T, W = 100_000, 1000
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256 * 50, 64)).astype("float32")
    y = rng.integers(0, 10, len(x))

    class Record(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.lrs: list[float] = []

        def on_train_batch_begin(self, batch, logs=None) -> None:
            self.lrs.append(float(self.model.optimizer.learning_rate))

    def setup(schedule) -> Callable[[], float]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=schedule),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )

        def run() -> float:
            start = time.perf_counter()
            model.fit(x, y, batch_size=256, epochs=1, verbose=0, shuffle=False)
            return (time.perf_counter() - start) / 50 * 1e6

        return run

    uba_run = setup(UBADecay(0.0, T - W, phi=2.0, warmup_target=1e-3, warmup_steps=W, min_learning_rate=1e-5))
    cos_run = setup(keras.optimizers.schedules.CosineDecay(0.0, T - W, alpha=0.01, warmup_target=1e-3, warmup_steps=W))
    side_by_side("keras: model.fit step (TF backend), Adam", uba_run, cos_run, repeats, "us/step")
    # The curve check: one more epoch with the per-batch recorder attached.
    schedule = UBADecay(0.0, T - W, phi=2.0, warmup_target=1e-3, warmup_steps=W, min_learning_rate=1e-5)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="mse")
    record = Record()
    model.fit(
        x, keras.utils.to_categorical(y, 10), batch_size=256, epochs=1, verbose=0, shuffle=False, callbacks=[record]
    )
    cfg = schedule.uba_config
    assert_curve("keras", record.lrs, cfg, np.arange(len(record.lrs)), float32=True)


def versions() -> dict:
    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
    }
    for mod in ("torch", "jax", "optax", "tensorflow", "keras"):
        if mod in sys.modules:
            out[mod] = sys.modules[mod].__version__
    return out


def markdown(rows: list[dict]) -> str:
    lines = [
        "| row | UBA | cosine | unit | ratio UBA / cosine (median) | spread (min, max) |",
        "|---|---:|---:|---|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['row']} | {r['uba']:.4g} | {r['cosine']:.4g} | {r['unit']} | "
            f"{r['ratio']:.3f} | {r['ratio_min']:.3f}, {r['ratio_max']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["core", "torch", "torch-tensor-lr", "optax", "keras"],
        default=["core", "torch", "torch-tensor-lr", "optax", "keras"],
    )
    parser.add_argument("--repeats", type=int, default=9, help="at least 7")
    parser.add_argument("--out", default=str(RESULTS / "overhead.json"))
    args = parser.parse_args(argv)
    if args.repeats < 7:
        parser.error(f"--repeats must be >= 7 (medians over repeats). Received: {args.repeats}")
    # torch before tensorflow: the other import order can crash.
    order = [name for name in ("core", "torch", "torch-tensor-lr", "optax", "keras") if name in args.only]
    for name in order:
        print(f"[{name}]", flush=True)
        bench = {
            "core": bench_core,
            "torch": bench_torch,
            "torch-tensor-lr": bench_torch_tensor_lr,
            "optax": bench_optax,
            "keras": bench_keras,
        }
        bench[name](args.repeats)
    table = markdown(ROWS)
    print("\n" + table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "rows": ROWS,
                "versions": versions(),
                "command": "python benchmarks/overhead.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
