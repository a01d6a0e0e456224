"""The cosine test cases of torch, optax and keras, re-expressed against our adapters at phi = 2.

Each test names the upstream test it re-expresses:
- torch: ``test/optim/test_lrscheduler.py`` (``TestLRScheduler``), every case with
  ``CosineAnnealingLR`` or ``CosineAnnealingWarmRestarts`` (against ``UBAWarmRestarts``);
- optax: ``optax/schedules/_schedule_test.py``, ``CosineDecayTest``,
  ``WarmupCosineDecayTest`` and ``SGDRTest`` (against ``uba_sgdr_schedule``);
- keras: ``keras/src/optimizers/schedules/learning_rate_schedule_test.py``,
  ``CosineDecayTest`` and ``CosineDecayRestartsTest`` (against ``UBADecayRestarts``).

Our scheduler is always called with the built-in's exact call (same positional and
keyword arguments) plus ``phi=2.0``. Expected values come from the built-in run side
by side in the same test, or from the closed-form cosine written out here, never from
our code. Where we differ from the built-in on purpose, the test asserts the
difference (README, "Differences from the built-in"):
- torch, past ``T_max``: ``CosineAnnealingLR`` climbs back up (period ``2 * T_max``);
  ``UBALR`` holds ``eta_min`` and warns once with ``UBABudgetWarning``.
- torch, a partner scheduler's factor with ``eta_min > 0``: ``UBALR`` scales its whole
  curve, floor included; the built-in's recursion scales only the part above ``eta_min``.
- torch, ``load_state_dict`` with another schedule: ``UBALR`` warns, then continues
  with the checkpoint's schedule (the built-in continues silently); with another budget
  the checkpoint's wins only under ``on_budget_change="keep"`` (by default the curve
  continues to the ``T_max`` built, where steps of it are left).
- torch, a negative ``eta_min``: refused (``ValueError`` naming it); the built-in ends
  on negative rates.
- optax, negative rates: refused (``ValueError`` naming the argument).
- optax, ``peak_value=0`` with ``end_value > 0``: optax's floor is
  ``alpha = end_value / peak_value``, taken as 0, so it stays at 0; ours rises to
  ``end_value``, as it does for any floor above the peak.
- keras, ``warmup_steps`` without ``warmup_target``: ignored by both; ``UBADecay`` warns.
- torch, ``CosineAnnealingWarmRestarts.step(epoch)`` on some cycle boundaries (``T_0=1,
  T_mult=3``, epoch 121): the built-in's ``int(log(...))`` lands in the previous cycle
  and gives ``eta_min``; ``UBAWarmRestarts`` gives the restart's peak, as chained steps do.
- torch, ``T_0=10.0``: the built-in refuses any float; ``UBAWarmRestarts`` accepts an
  integral one (as ``UBALR`` accepts ``T_max=10.0``).
- keras, ``CosineDecayRestarts`` with ``t_mul < 1`` past the end of its shrinking cycles:
  NaN; ``UBADecayRestarts`` holds the floor. Over many cycles the built-in's position in
  a cycle carries float32's rounding of ``step / first_decay_steps``; ours is exact.

Torch tolerances: a float lr within ``rtol=1e-12`` (the built-in's recursion drifts by
a few ulps per step), a float32 tensor lr (upstream's second param group) within two
float32 roundings of the closed form, and ``1e-6`` of the built-in (whose recursion
rounds to float32 at every step) or where a partner scheduler's own float32 roundings
are carried. optax and keras: ``rtol=1e-6``, ``atol=1e-6 * peak``.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import warnings

import numpy as np
import pytest
from conftest import framework, group_lrs, step_lrs

TORCH_RTOL = 1e-12
TENSOR32_RTOL = 2.0**-23  # two float32 roundings of the closed form
TENSOR32_BUILTIN_RTOL = 1e-6  # the built-in's recursion rounds to float32 every step
F32_RTOL = 1e-6


def cosine(t: float, base: float, floor: float, T: float) -> float:
    """The closed-form cosine of the upstream tests, unclipped (it climbs back after T)."""
    return floor + (base - floor) * (1.0 + math.cos(math.pi * t / T)) / 2.0


# =====================================================================================
# torch: test/optim/test_lrscheduler.py
# =====================================================================================

BASES = (0.05, 0.5)  # upstream's setUp: lr=0.05, and a second group with lr=torch.tensor(0.5)
UPSTREAM_RTOLS = (TORCH_RTOL, TENSOR32_RTOL)
BUILTIN_RTOLS = (TORCH_RTOL, TENSOR32_BUILTIN_RTOL)


@pytest.fixture(scope="module")
def torch():
    return framework("torch", "torch")


@pytest.fixture(scope="module")
def sched_mod(torch):
    """torch.optim.lr_scheduler."""
    return torch.optim.lr_scheduler


@pytest.fixture(scope="module")
def uba_torch(torch):
    return importlib.import_module("uba_torch")


@pytest.fixture(scope="module")
def cosines(sched_mod, uba_torch):
    """The built-in and ours, each called as ``cls(optimizer, *args, **kwargs)``."""
    return {"builtin": sched_mod.CosineAnnealingLR, "ours": functools.partial(uba_torch.UBALR, phi=2.0)}


def upstream_sgd(torch, lr0: float = BASES[0], lr1: float = BASES[1]):
    """Upstream's setUp optimizer: SGD, group 0 with a float lr, group 1 with a float32 tensor lr."""
    params = [torch.nn.Parameter(torch.zeros(())) for _ in range(2)]
    return torch.optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": torch.tensor(lr1)}], lr=lr0)


def assert_groups_close(actual, expected, rtols, atol: float = 0.0) -> None:
    """Compare (epoch, group) arrays column by column, with each group's rtol."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    np.testing.assert_equal(actual.shape, expected.shape)
    for g, rtol in enumerate(rtols):
        np.testing.assert_allclose(actual[:, g], expected[:, g], rtol=rtol, atol=atol, err_msg=f"param group {g}")


def plain(value):
    """A state dict with tensors as Python numbers, for np.testing.assert_equal."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize("T_max", [10, 10.0], ids=["T_max=10", "T_max=10.0"])
def test_cos_anneal_lr(torch, cosines, T_max) -> None:
    """test_cos_anneal_lr, with get_last_lr read as in _test_get_last_lr."""
    epochs, eta_min = 10, 1e-10
    expected = [[cosine(t, b, eta_min, epochs) for b in BASES] for t in range(epochs)]
    runs = {}
    for name, cls in cosines.items():
        opt = upstream_sgd(torch)
        sched = cls(opt, T_max=T_max, eta_min=eta_min)
        rows, last = [], []
        for _ in range(epochs):
            rows.append(group_lrs(opt))
            last.append([float(x) for x in sched.get_last_lr()])
            opt.step()
            sched.step()
        runs[name] = np.array(rows)
        np.testing.assert_array_equal(np.array(last), runs[name], err_msg=f"{name}: get_last_lr()")
    assert_groups_close(runs["ours"], expected, UPSTREAM_RTOLS)
    assert_groups_close(runs["ours"], runs["builtin"], BUILTIN_RTOLS)


def test_closed_form_cos_anneal_lr(torch, cosines, uba_torch) -> None:
    """test_closed_form_cos_anneal_lr: T_max=5, eta_min=1e-10, 20 epochs, chained vs step(epoch).

    Upstream's version reads the lrs of a fresh optimizer that no scheduler drives, so
    it compares constants; this compares the two paths at the same last_epoch 1..20.
    Past T_max the built-in climbs back (its closed form is the unclipped cosine);
    UBALR holds eta_min on both paths and warns once per scheduler.
    """
    T_max, eta_min, epochs = 5, 1e-10, 20
    Budget = uba_torch.UBABudgetWarning
    paths = {}
    for name, cls in cosines.items():
        for path in ("chained", "closed_form"):
            opt = upstream_sgd(torch)
            sched = cls(opt, T_max=T_max, eta_min=eta_min)
            rows = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for epoch in range(1, epochs + 1):
                    opt.step()
                    sched.step() if path == "chained" else sched.step(epoch)
                    rows.append(group_lrs(opt))
            paths[name, path] = np.array(rows)
            budget = [w for w in caught if issubclass(w.category, Budget)]
            np.testing.assert_equal(len(budget), 1 if name == "ours" else 0, err_msg=f"{name} {path}")
    assert_groups_close(paths["ours", "chained"], paths["ours", "closed_form"], UPSTREAM_RTOLS)

    t = np.arange(1, epochs + 1)
    within = t <= T_max
    unclipped = np.array([[cosine(x, b, eta_min, T_max) for b in BASES] for x in t])
    held = np.where(within[:, None], unclipped, eta_min)
    assert_groups_close(paths["ours", "chained"], held, UPSTREAM_RTOLS)
    # The difference: the built-in restarts (back to its base lr at 2 * T_max = 10).
    assert_groups_close(paths["builtin", "closed_form"], unclipped, BUILTIN_RTOLS)
    np.testing.assert_allclose(paths["builtin", "closed_form"][t == 2 * T_max][0], BASES, rtol=1e-7)
    np.testing.assert_array_equal(paths["ours", "chained"][~within][:, 0], eta_min)


def test_cos_anneal_lr_continue(torch, cosines) -> None:
    """test_cos_anneal_lr_continue: rebuilding with last_epoch=0 after one step gives lr(1).

    eta_min=0.1 is above group 0's lr (0.05): that group's rate rises toward it.
    """
    T_max, eta_min = 5, 0.1
    expected = [cosine(1, b, eta_min, T_max) for b in BASES]
    got = {}
    for name, cls in cosines.items():
        opt = upstream_sgd(torch)
        first = cls(opt, T_max=T_max, eta_min=eta_min)
        opt.step()
        first.step()
        original = [float(x) for x in first.get_last_lr()]
        resumed = cls(opt, T_max=T_max, eta_min=eta_min, last_epoch=0)
        got[name] = np.array([original, [float(x) for x in resumed.get_last_lr()]])
    assert_groups_close(got["ours"], [expected, expected], UPSTREAM_RTOLS)
    assert_groups_close(got["ours"], got["builtin"], BUILTIN_RTOLS)


# name -> (partner built before the cosine?, partner, factor the partner has applied at epoch i)
COMPOUND_PARTNERS = {
    "StepLR": (False, lambda m, opt: m.StepLR(opt, gamma=0.1, step_size=3), lambda i: 0.1 ** (i // 3)),
    "MultiStepLR": (
        False,
        lambda m, opt: m.MultiStepLR(opt, gamma=0.1, milestones=[2, 5, 9]),
        lambda i: ([1] * 2 + [0.1] * 3 + [0.01] * 4 + [0.001])[i],
    ),
    "LinearLR": (
        True,
        lambda m, opt: m.LinearLR(opt, start_factor=0.4, total_iters=4),
        lambda i: 0.4 + i / 4 * 0.6 if i < 4 else 1.0,
    ),
    "ExponentialLR": (False, lambda m, opt: m.ExponentialLR(opt, gamma=0.1), lambda i: 0.1**i),
}


@pytest.mark.parametrize("eta_min", [1e-10, 0.0], ids=["eta_min=1e-10", "eta_min=0"])
@pytest.mark.parametrize("driver", ["separate", "ChainedScheduler"])
@pytest.mark.parametrize("partner", list(COMPOUND_PARTNERS))
def test_compound_cosanneal(torch, sched_mod, cosines, partner, driver, eta_min) -> None:
    """test_compound_cosanneal_and_{step_lr, multistep_lr, linearlr, exp_lr}.

    Upstream steps two schedulers one after the other ("separate", eta_min=1e-10);
    the same pairs inside ChainedScheduler (as its test_chained_lr* cases chain other
    schedulers) and with eta_min=0 are added. Expected: the cosine times the partner's
    factor. With eta_min > 0 the built-in differs from that by up to eta_min: its
    recursion eta_min + (lr - eta_min) * ratio does not scale the floor by the factor,
    ours scales the whole curve.
    """
    epochs = 10
    before, make_partner, factor = COMPOUND_PARTNERS[partner]
    expected = [[cosine(i, b, eta_min, epochs) * factor(i) for b in BASES] for i in range(epochs)]
    runs = {}
    for name, cls in cosines.items():
        opt = upstream_sgd(torch)
        if before:
            scheds = [make_partner(sched_mod, opt), cls(opt, T_max=epochs, eta_min=eta_min)]
        else:
            scheds = [cls(opt, T_max=epochs, eta_min=eta_min), make_partner(sched_mod, opt)]
        if driver == "ChainedScheduler":
            chain = sched_mod.ChainedScheduler(scheds)
            runs[name] = step_lrs(opt, [chain], epochs)
            np.testing.assert_array_equal(
                [float(x) for x in chain.get_last_lr()], [float(x) for x in scheds[-1].get_last_lr()]
            )
        else:
            runs[name] = step_lrs(opt, scheds, epochs)
    # The partner's own float32 roundings of the tensor lr are carried, as in the built-in.
    assert_groups_close(runs["ours"], expected, BUILTIN_RTOLS)
    assert_groups_close(runs["builtin"], runs["ours"], BUILTIN_RTOLS, atol=eta_min)


def plateau_runs(torch, cosines, lr, metrics, make_plateau, make_cosine) -> dict:
    """Each cosine (ours, the built-in) with a ReduceLROnPlateau, as upstream steps them.

    Returns:
        name -> the lrs of every group after each epoch, an array (epochs, groups).
    """
    runs = {}
    for name, cls in cosines.items():
        opt = upstream_sgd(torch)
        for group in opt.param_groups:
            group["lr"] = lr
        plateau, cos = make_plateau(opt), make_cosine(cls, opt)
        rows = []
        for metric in metrics:
            opt.step()
            plateau.step(metric)
            cos.step()
            rows.append(group_lrs(opt))
        runs[name] = np.array(rows)
    return runs


def test_compound_reduce_lr_on_plateau4(torch, sched_mod, cosines) -> None:
    """test_compound_reduce_lr_on_plateau4: no cut (metrics rise fast enough), CosineAnnealingLR(opt, epochs, eta_min).

    Upstream's targets[1:] leaves no target, so it checks nothing; here each epoch's
    lr after both steps is checked against the cosine at last_epoch = epoch + 1.
    """
    epochs, eta_min = 10, 1e-10
    metrics = [1.5 * 1.025**i for i in range(20)]
    expected = [[cosine(e + 1, 0.05, eta_min, epochs)] * 2 for e in range(epochs)]
    runs = plateau_runs(
        torch,
        cosines,
        0.05,
        metrics[:epochs],
        lambda opt: sched_mod.ReduceLROnPlateau(opt, mode="max", patience=3, threshold_mode="rel", threshold=0.1),
        lambda cls, opt: cls(opt, epochs, eta_min),
    )  # upstream's positional call
    assert_groups_close(runs["ours"], expected, (TORCH_RTOL, TORCH_RTOL))
    assert_groups_close(runs["ours"], runs["builtin"], (TORCH_RTOL, TORCH_RTOL))


def test_compound_reduce_lr_on_plateau_with_cuts(torch, sched_mod, cosines) -> None:
    """test_compound_reduce_lr_on_plateau2's plateau (three cuts by 0.1) with CosineAnnealingLR as the partner.

    Upstream pairs this ReduceLROnPlateau with MultiStepLR; its standalone targets give
    the cut factors. A cut persists as a factor on the curve, as in the built-in.
    """
    epochs = 22
    metrics = [10 - i * 0.0165 for i in range(epochs)]
    cuts = [1.0] * 6 + [0.1] * 7 + [0.01] * 7 + [0.001] * 2
    expected = [[cosine(e + 1, 0.5, 0.0, epochs) * cuts[e]] * 2 for e in range(epochs)]
    runs = plateau_runs(
        torch,
        cosines,
        0.5,
        metrics,
        lambda opt: sched_mod.ReduceLROnPlateau(
            opt, patience=5, cooldown=0, threshold_mode="abs", mode="min", threshold=0.1
        ),
        lambda cls, opt: cls(opt, epochs),
    )
    assert_groups_close(runs["ours"], expected, (TORCH_RTOL, TORCH_RTOL), atol=1e-18)
    assert_groups_close(runs["ours"], runs["builtin"], (TORCH_RTOL, TORCH_RTOL), atol=1e-18)


def test_sequentiallr_hands_over_to_cosine(torch, sched_mod, cosines) -> None:
    """test_sequentiallr1's pattern (ExponentialLR, then a second scheduler at milestone 3) with the cosine second.

    No upstream test puts CosineAnnealingLR in a SequentialLR; the hand-over uses the
    closed form (step(0)), so the cosine starts again from the base lr.
    """
    T_max, milestone = 16, 3
    expected = [[b * 0.8**i for b in BASES] for i in range(milestone)]
    expected += [[cosine(t, b, 0.0, T_max) for b in BASES] for t in range(T_max)]
    runs = {}
    for name, cls in cosines.items():
        opt = upstream_sgd(torch)
        seq = sched_mod.SequentialLR(
            opt, [sched_mod.ExponentialLR(opt, gamma=0.8), cls(opt, T_max=T_max)], milestones=[milestone]
        )
        with warnings.catch_warnings():  # SequentialLR steps its schedulers with an epoch
            warnings.filterwarnings("ignore", message="The epoch parameter", category=UserWarning)
            runs[name] = step_lrs(opt, [seq], milestone + T_max)
    assert_groups_close(runs["ours"], expected, UPSTREAM_RTOLS)
    assert_groups_close(runs["ours"], runs["builtin"], BUILTIN_RTOLS)


def assert_same(a, b, where: str) -> None:
    """``a == b`` as upstream's ``assertEqual`` compares them (tensors by value and dtype,
    sequences and mappings item by item, anything else with ``==``), but exactly."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), f"{where}: {a!r} != {b!r}"
        assert a.dtype == b.dtype and torch.equal(a, b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a!r} != {b!r}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_cosine_lr_state_dict(torch, cosines) -> None:
    """test_cosine_lr_state_dict (_check_scheduler_state_dict): a scheduler built with other
    arguments (T_max // 2, eta_min / 2) on the same optimizer loads the state of one stepped 10
    times; every attribute but the optimizer, and get_last_lr(), then equal the source's.

    Difference: UBALR warns that the checkpoint's schedule differs from the one built
    (the built-in loads silently); both continue with the checkpoint's.
    """
    epochs, eta_min = 10, 1e-10
    for name, cls in cosines.items():
        opt = upstream_sgd(torch)
        sched = cls(opt, T_max=epochs, eta_min=eta_min)
        for _ in range(epochs):
            opt.step()
            sched.step()
        copy = cls(opt, T_max=epochs // 2, eta_min=eta_min / 2)
        loading = pytest.warns(UserWarning, match="differs") if name == "ours" else warnings.catch_warnings()
        with loading:
            copy.load_state_dict(sched.state_dict())
        for key in sched.__dict__:
            if key != "optimizer":
                assert_same(sched.__dict__[key], copy.__dict__[key], f"{name}: {key}")
        assert_same(sched.get_last_lr(), copy.get_last_lr(), f"{name}: get_last_lr()")
        np.testing.assert_equal((copy.T_max, copy.eta_min), (epochs, eta_min))


def test_cosine_annealing_lr_state_dict_loads_into_ubalr(torch, sched_mod, cosines) -> None:
    """test_cosine_lr_state_dict across classes: a CosineAnnealingLR checkpoint resumed by UBALR(phi=2).

    The second scheduler is built with other arguments (T_max // 2, eta_min / 2), as
    upstream does, and positionally; after loading the optimizer and the scheduler
    state, it continues the built-in's curve to T_max. UBALR says so in a UserWarning.
    Difference: the checkpoint's budget wins only with ``on_budget_change="keep"``; by
    default UBALR continues the curve to the T_max it was built with.
    """
    epochs, eta_min, done = 10, 1e-10, 4
    opt_a, opt_b = upstream_sgd(torch), upstream_sgd(torch)
    builtin = sched_mod.CosineAnnealingLR(opt_a, T_max=epochs, eta_min=eta_min)
    step_lrs(opt_a, [builtin], done)
    ours = cosines["ours"](opt_b, epochs // 2, eta_min / 2, on_budget_change="keep")
    opt_b.load_state_dict(opt_a.state_dict())
    with pytest.warns(UserWarning, match="CosineAnnealingLR checkpoint"):
        ours.load_state_dict(builtin.state_dict())
    np.testing.assert_equal((ours.T_max, ours.eta_min, ours.last_epoch), (epochs, eta_min, done))
    rest = epochs - done  # last_epoch 4 to 9 recorded, then 10 = T_max
    resumed = np.vstack([step_lrs(opt_b, [ours], rest), group_lrs(opt_b)])
    assert_groups_close(resumed, np.vstack([step_lrs(opt_a, [builtin], rest), group_lrs(opt_a)]), BUILTIN_RTOLS)


@pytest.mark.parametrize("weights_only", [True, False], ids=["weights_only", "pickle"])
def test_lr_scheduler_state_dict_load(torch, cosines, weights_only, tmp_path) -> None:
    """test_lr_scheduler_state_dict_load[partial(CosineAnnealingLR, T_max=10)]."""
    build = functools.partial(cosines["ours"], T_max=10)
    opt = upstream_sgd(torch)
    state = build(opt).state_dict()
    torch.save(state, tmp_path / "sched.pt")
    loaded = torch.load(tmp_path / "sched.pt", weights_only=weights_only)
    np.testing.assert_equal(plain(loaded), plain(state))
    again = build(opt)
    again.load_state_dict(loaded)
    np.testing.assert_equal(plain(again.state_dict()), plain(state))


def test_constant_initial_lr(torch, cosines) -> None:
    """test_constant_initial_lr[partial(CosineAnnealingLR, T_max=10)]: a tensor lr scaled in place
    changes neither initial_lr nor base_lrs, and base_lrs does not alias initial_lr."""
    for name, cls in cosines.items():
        lr = torch.as_tensor(0.1)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.randn(1))], lr=lr)
        sched = cls(opt, T_max=10)
        initial = [float(g["initial_lr"]) for g in opt.param_groups]
        for i in range(2):
            opt.step()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The epoch parameter", category=UserWarning)
                sched.step(i)
            lr.multiply_(0.1)
            for group, first in zip(opt.param_groups, initial, strict=True):
                np.testing.assert_equal(float(group["initial_lr"]), first, err_msg=name)
                np.testing.assert_allclose([float(b) for b in sched.base_lrs], [0.1], rtol=TENSOR32_RTOL, err_msg=name)
                np.testing.assert_(sched.base_lrs[0] is not group["initial_lr"], name)


def test_lr_scheduler_checkpoint(torch, cosines) -> None:
    """test_lr_scheduler_checkpoint[partial(CosineAnnealingLR, T_max=10)]: AdamW, one step,
    a second scheduler on a copy of the optimizer state with last_epoch=0."""
    got = {}
    for name, cls in cosines.items():
        build = functools.partial(cls, T_max=10)
        model = torch.nn.Linear(3, 3)
        optim = torch.optim.AdamW(model.parameters())
        sched = build(optim)
        optim.step()
        sched.step()
        optim2 = torch.optim.AdamW(model.parameters())
        optim2.load_state_dict(optim.state_dict())
        sched2 = build(optim2, last_epoch=0)
        got[name] = [float(sched2.get_last_lr()[0]), float(optim.param_groups[0]["lr"])]
        np.testing.assert_allclose(got[name][0], got[name][1], rtol=TORCH_RTOL, err_msg=name)
    np.testing.assert_allclose(got["ours"], got["builtin"], rtol=TORCH_RTOL)
    np.testing.assert_allclose(got["ours"][1], cosine(1, 1e-3, 0.0, 10), rtol=TORCH_RTOL)


def test_cosine_then_cyclic(torch, sched_mod, cosines, uba_torch) -> None:
    """test_cosine_then_cyclic (pytorch issue 21965): CosineAnnealingLR(T_max=20, eta_min=0.1) for
    21 steps, then CyclicLR; the final lr stays <= max_lr.

    Upstream's loop steps the cosine once past T_max (last_epoch 21): there the
    built-in has started climbing back, UBALR holds eta_min and warns once. Every
    other lr, CyclicLR's included, is the same.
    """
    T_max, eta_min, base_lr, max_lr = 20, 0.1, 0.1, 0.3
    runs = {}
    for name, cls in cosines.items():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5)
        first = cls(optimizer, T_max=T_max, eta_min=eta_min)
        second = sched_mod.CyclicLR(optimizer, base_lr=base_lr, max_lr=max_lr, step_size_up=1, step_size_down=3)
        rows = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(40):
                optimizer.step()
                first.step() if i <= T_max else second.step()
                rows.append(optimizer.param_groups[0]["lr"])
        runs[name] = np.array(rows)
        budget = [w for w in caught if issubclass(w.category, uba_torch.UBABudgetWarning)]
        np.testing.assert_equal(len(budget), 1 if name == "ours" else 0, err_msg=name)
        np.testing.assert_array_less(runs[name][-1], max_lr + 1e-12)
    past = np.arange(40) == T_max  # the step to last_epoch = T_max + 1
    np.testing.assert_allclose(runs["ours"][~past], runs["builtin"][~past], rtol=TORCH_RTOL)
    np.testing.assert_allclose(
        runs["ours"][:T_max], [cosine(t, 0.5, eta_min, T_max) for t in range(1, T_max + 1)], rtol=TORCH_RTOL
    )
    np.testing.assert_equal(runs["ours"][past], [eta_min])
    np.testing.assert_allclose(runs["builtin"][past], [cosine(T_max + 1, 0.5, eta_min, T_max)], rtol=TORCH_RTOL)


def test_a_negative_eta_min_is_refused_where_the_built_in_writes_negative_rates(torch, cosines) -> None:
    """No upstream case: ``CosineAnnealingLR(opt, 5, -0.01)`` is accepted and ends the run on
    negative rates (gradient ascent), which torch's optimizers refuse as an lr
    (``SGD(lr=-0.01)`` raises). UBALR refuses the floor where it is given, naming it."""
    opt = upstream_sgd(torch)
    builtin = cosines["builtin"](opt, 5, -0.01)
    rates = step_lrs(opt, [builtin], 6)[:, 0]
    np.testing.assert_allclose(rates, [cosine(t, BASES[0], -0.01, 5) for t in range(6)], rtol=TORCH_RTOL)
    assert rates[-1] < 0.0
    with pytest.raises(ValueError, match="Invalid learning rate"):
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=-0.01)
    with pytest.raises(ValueError, match=r"Argument `eta_min` must be >= 0\.0\. Received: eta_min=-0\.01"):
        cosines["ours"](upstream_sgd(torch), 5, -0.01)


@pytest.mark.parametrize("family", ["cosines", "restarts"])
def test_get_lr_outside_step_warns_like_builtin(torch, request, family) -> None:
    """torch's schedulers warn when get_lr() is called outside step() (no upstream test
    with CosineAnnealingLR or CosineAnnealingWarmRestarts); the lrs stay as they are."""
    for name, cls in request.getfixturevalue(family).items():
        opt = upstream_sgd(torch)
        sched = cls(opt, 10)
        before = group_lrs(opt)
        with pytest.warns(UserWarning, match=r"get_last_lr\(\)"):
            sched.get_lr()
        np.testing.assert_equal(group_lrs(opt), before, err_msg=name)


# --- CosineAnnealingWarmRestarts -------------------------------------------------------


@pytest.fixture(scope="module")
def restarts(sched_mod, uba_torch):
    """CosineAnnealingWarmRestarts and ours, each called as ``cls(optimizer, *args, **kwargs)``."""
    return {
        "builtin": sched_mod.CosineAnnealingWarmRestarts,
        "ours": functools.partial(uba_torch.UBAWarmRestarts, phi=2.0),
    }


def sgdr_position(epoch: float, T_0: int, T_mult: int) -> tuple[float, int]:
    """(T_cur, T_i) at ``epoch``, walking the cycles T_0, T_0 T_mult, ... one by one."""
    T_cur, T_i = epoch, T_0
    while T_cur >= T_i:
        T_cur -= T_i
        T_i *= T_mult
    return T_cur, T_i


def sgdr(epoch: float, base: float, eta_min: float, T_0: int, T_mult: int) -> float:
    """SGDR's cosine at ``epoch``, from its cycle position."""
    T_cur, T_i = sgdr_position(epoch, T_0, T_mult)
    return cosine(T_cur, base, eta_min, T_i)


@pytest.mark.parametrize("T_mult", [1, 2, 4], ids=["T_mult=1", "T_mult=2", "T_mult=4"])
def test_CosineAnnealingWarmRestarts_lr1(torch, restarts, T_mult) -> None:
    """test_CosineAnnealingWarmRestarts_lr1: T_0=10, eta_min=1e-10, 100 chained steps."""
    epochs, eta_min = 100, 1e-10
    expected = [[sgdr(t, b, eta_min, 10, T_mult) for b in BASES] for t in range(epochs)]
    runs = {}
    for name, cls in restarts.items():
        opt = upstream_sgd(torch)
        runs[name] = step_lrs(opt, [cls(opt, T_0=10, T_mult=T_mult, eta_min=eta_min)], epochs)
    assert_groups_close(runs["ours"], expected, UPSTREAM_RTOLS, atol=1e-18)
    assert_groups_close(runs["ours"], runs["builtin"], BUILTIN_RTOLS, atol=1e-18)


@pytest.mark.parametrize("T_mult", [1, 2, 4], ids=["T_mult=1", "T_mult=2", "T_mult=4"])
def test_CosineAnnealingWarmRestarts_lr2(torch, restarts, T_mult) -> None:
    """test_CosineAnnealingWarmRestarts_lr2: step(epoch) at epochs 0, 0.1, ..., 29.9 (rounded to
    one decimal as upstream), no optimizer step in between; the built-in gives no step-order
    warning there, and neither does ours."""
    eta_min = 1e-10
    epochs = [round(0.1 * i, 1) for i in range(300)]
    expected = [[sgdr(e, b, eta_min, 10, T_mult) for b in BASES] for e in epochs]
    runs = {}
    for name, cls in restarts.items():
        opt = upstream_sgd(torch)
        sched = cls(opt, T_0=10, T_mult=T_mult, eta_min=eta_min)
        rows = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for epoch in epochs:
                sched.step(epoch)
                rows.append(group_lrs(opt))
        runs[name] = np.array(rows)
    # The epochs themselves are rounded decimals: the cycle position carries their rounding.
    assert_groups_close(runs["ours"], expected, (1e-9, TENSOR32_RTOL), atol=1e-12)
    assert_groups_close(runs["ours"], runs["builtin"], (1e-9, TENSOR32_BUILTIN_RTOL), atol=1e-12)


@pytest.mark.parametrize(
    "T_mult,epochs",
    [
        (1, [0, 1, 2, 3, 4, 5, 12, 27, 3, 4, 5, 6, 13]),
        (2, [0, 1, 2, 3, 4, 5, 25, 32, 33, 34, 80, 81, 3]),
        (3, [0, 0.1, 0.2, 0.3, 1.3, 2.3, 17.5, 18.5, 19.5, 29.5, 30.5, 31.5, 50]),
    ],
    ids=["T_mult=1", "T_mult=2", "T_mult=3-fractional"],
)
def test_CosineAnnealingWarmRestarts_lr3(torch, restarts, T_mult, epochs) -> None:
    """test_CosineAnnealingWarmRestarts_lr3: step(epoch) back and forth (T_0=10); T_cur and T_i
    follow the epoch, as the built-in's do."""
    eta_min = 1e-10
    expected = [[sgdr(e, b, eta_min, 10, T_mult) for b in BASES] for e in epochs]
    runs, positions = {}, {}
    for name, cls in restarts.items():
        opt = upstream_sgd(torch)
        sched = cls(opt, T_0=10, T_mult=T_mult, eta_min=eta_min)
        rows, pos = [], []
        for epoch in epochs:
            sched.step(epoch)
            rows.append(group_lrs(opt))
            pos.append((sched.T_cur, sched.T_i))
        runs[name], positions[name] = np.array(rows), pos
    np.testing.assert_allclose(
        positions["ours"], [sgdr_position(e, 10, T_mult) for e in epochs], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(positions["ours"], positions["builtin"], rtol=1e-12, atol=1e-12)
    assert_groups_close(runs["ours"], expected, (1e-12, TENSOR32_RTOL), atol=1e-18)
    assert_groups_close(runs["ours"], runs["builtin"], BUILTIN_RTOLS, atol=1e-18)


def test_CosineAnnealingWarmRestarts_T_cur_reset(torch, restarts) -> None:
    """test_CosineAnnealingWarmRestarts_T_cur_reset: T_cur set past the cycle's length, then a
    step: T_cur wraps to (T_cur + 1) mod T_0. Ours moves the position by the difference, so the
    rate follows T_cur too."""
    for name, cls in restarts.items():
        opt = upstream_sgd(torch)
        sched = cls(opt, T_0=4)
        for epoch in (7, 8, 9):
            sched.T_cur = epoch
            opt.step()
            sched.step()
            np.testing.assert_equal(sched.T_cur, (epoch + 1) % 4, err_msg=name)
            expected = [cosine((epoch + 1) % 4, b, 0.0, 4) for b in BASES]
            assert_groups_close([group_lrs(opt)], [expected], BUILTIN_RTOLS if name == "builtin" else UPSTREAM_RTOLS)


def test_CosineAnnealingWarmRestarts_lr_state_dict(torch, restarts) -> None:
    """test_CosineAnnealingWarmRestarts_lr_state_dict (_check_scheduler_state_dict): 10 steps of
    (T_0=10, T_mult=2), loaded into one built with T_0=100: every attribute (the optimizer's
    aside) and get_last_lr() are equal."""
    cls = restarts["ours"]
    opt = upstream_sgd(torch)
    sched = cls(opt, T_0=10, T_mult=2)
    step_lrs(opt, [sched], 10)
    copy = cls(opt, T_0=100)
    copy.load_state_dict(sched.state_dict())
    for key, value in sched.__dict__.items():
        if key != "optimizer":
            np.testing.assert_equal(plain(copy.__dict__[key]), plain(value), err_msg=key)
    np.testing.assert_equal(plain(copy.get_last_lr()), plain(sched.get_last_lr()))
    np.testing.assert_equal((copy.T_0, copy.T_mult, copy.T_i, copy.T_cur), (10, 2, 20, 0))


@pytest.mark.parametrize("weights_only", [True, False], ids=["weights_only", "pickle"])
def test_restarts_state_dict_load(torch, restarts, weights_only, tmp_path) -> None:
    """test_lr_scheduler_state_dict_load[partial(CosineAnnealingWarmRestarts, T_0=20)]."""
    build = functools.partial(restarts["ours"], T_0=20)
    opt = upstream_sgd(torch)
    state = build(opt).state_dict()
    torch.save(state, tmp_path / "sched.pt")
    loaded = torch.load(tmp_path / "sched.pt", weights_only=weights_only)
    np.testing.assert_equal(plain(loaded), plain(state))
    again = build(opt)
    again.load_state_dict(loaded)
    np.testing.assert_equal(plain(again.state_dict()), plain(state))


def test_restarts_constant_initial_lr(torch, restarts) -> None:
    """test_constant_initial_lr[partial(CosineAnnealingWarmRestarts, T_0=20)]: a tensor lr scaled
    in place after step(i) changes neither initial_lr nor base_lrs."""
    for name, cls in restarts.items():
        lr = torch.as_tensor(0.1)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.randn(1))], lr=lr)
        sched = cls(opt, T_0=20)
        initial = [float(g["initial_lr"]) for g in opt.param_groups]
        for i in range(2):
            opt.step()
            sched.step(i)
            lr.multiply_(0.1)
            for group, first in zip(opt.param_groups, initial, strict=True):
                np.testing.assert_equal(float(group["initial_lr"]), first, err_msg=name)
                np.testing.assert_allclose([float(b) for b in sched.base_lrs], [0.1], rtol=TENSOR32_RTOL, err_msg=name)
                np.testing.assert_(sched.base_lrs[0] is not group["initial_lr"], name)


def test_restarts_checkpoint(torch, restarts) -> None:
    """test_lr_scheduler_checkpoint[partial(CosineAnnealingWarmRestarts, T_0=20)]: a second
    scheduler on a copy of the optimizer state with last_epoch=0 is at step 1."""
    got = {}
    for name, cls in restarts.items():
        model = torch.nn.Linear(3, 3)
        optim = torch.optim.AdamW(model.parameters())
        sched = cls(optim, T_0=20)
        optim.step()
        sched.step()
        optim2 = torch.optim.AdamW(model.parameters())
        optim2.load_state_dict(optim.state_dict())
        sched2 = cls(optim2, T_0=20, last_epoch=0)
        got[name] = [float(sched2.get_last_lr()[0]), float(optim.param_groups[0]["lr"])]
    np.testing.assert_allclose(got["ours"], [cosine(1, 1e-3, 0.0, 20)] * 2, rtol=TORCH_RTOL)
    np.testing.assert_allclose(got["ours"], got["builtin"], rtol=TORCH_RTOL)


def test_restarts_closed_form_on_a_cycle_boundary(torch, restarts) -> None:
    """No upstream test. The built-in's step(epoch) finds the cycle with int(log(...)), which
    rounds below the integer at some boundaries: T_0=1, T_mult=3, epoch 121 (a restart) gives
    eta_min there, and epoch 121 by chained steps gives the peak. Difference: ours gives the
    peak both ways."""
    lrs = {}
    for name, cls in restarts.items():
        for path in ("chained", "closed_form"):
            opt = upstream_sgd(torch)
            sched = cls(opt, T_0=1, T_mult=3, eta_min=0.01)
            if path == "chained":
                step_lrs(opt, [sched], 121)
            else:
                sched.step(121)
            lrs[name, path] = group_lrs(opt)
    np.testing.assert_allclose(lrs["ours", "chained"], BASES, rtol=TENSOR32_RTOL)
    np.testing.assert_equal(lrs["ours", "closed_form"], lrs["ours", "chained"])
    np.testing.assert_equal(lrs["builtin", "chained"], lrs["ours", "chained"])
    np.testing.assert_allclose(lrs["builtin", "closed_form"], [0.01, 0.01], rtol=TENSOR32_RTOL)


def test_restarts_validation_like_the_builtin(torch, restarts) -> None:
    """The built-in refuses T_0 < 1 and T_mult < 1 (ValueError), as ours does, naming the argument;
    a negative epoch too. Difference: ours accepts an integral float (T_0=10.0), and refuses a
    fractional one with a ValueError (the built-in: ValueError for any float)."""
    opt = upstream_sgd(torch)
    for kwargs, arg in (({"T_0": 0}, "T_0"), ({"T_0": 10, "T_mult": 0}, "T_mult"), ({"T_0": 2.5}, "T_0")):
        with pytest.raises(ValueError):
            restarts["builtin"](opt, **kwargs)
        with pytest.raises(ValueError, match=f"Argument `{arg}`"):
            restarts["ours"](opt, **kwargs)
    with pytest.raises(ValueError):
        restarts["builtin"](opt, T_0=10.0)
    np.testing.assert_equal(restarts["ours"](opt, T_0=10.0).T_0, 10)
    for cls in restarts.values():
        with pytest.raises(ValueError, match="epoch"):
            cls(upstream_sgd(torch), T_0=10).step(-1)


# =====================================================================================
# optax: optax/schedules/_schedule_test.py
# =====================================================================================


@pytest.fixture(params=["jit", "eager"])
def variant(request, jax):
    """Upstream runs each schedule under jax.jit (chex.all_variants in older versions)."""
    return jax.jit if request.param == "jit" else (lambda f: f)


def assert_f32_close(actual, expected, scale: float) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=F32_RTOL, atol=F32_RTOL * scale
    )


def optax_cosine(t, init, T, alpha=0.0, exponent=1.0):
    """optax's cosine_decay_schedule, written out: (1 - alpha) c**exponent + alpha, clipped at T."""
    c = 0.5 * (1.0 + np.cos(np.pi * np.minimum(np.asarray(t, np.float64), T) / T))
    return init * ((1.0 - alpha) * c**exponent + alpha)


# id -> (args, kwargs, counts, evaluated one count at a time as upstream does)
COSINE_DECAY_CASES = {
    "decay_count_smaller_count": ((0.1, 10, 0.0), {}, np.arange(10), True),
    "decay_count_greater_count": ((0.1, 5, 0.0), {}, np.arange(12), True),
    "decay_count_greater_count_with_alpha": ((0.1, 5, 0.1), {}, np.arange(12), True),
    "with_exponent": (
        (),
        dict(init_value=0.1, decay_steps=100, alpha=0.0, exponent=2),
        np.array([0, 10, 50, 75, 100]),
        False,
    ),
    # No upstream test: optax takes any alpha; above 1 the rate rises to alpha * init_value.
    "alpha_above_one": ((0.1, 10, 1.5), {}, np.arange(14), False),
    "alpha_above_one_with_exponent": (
        (),
        dict(init_value=0.1, decay_steps=10, alpha=1.5, exponent=2),
        np.arange(14),
        False,
    ),
}


@pytest.mark.parametrize("case", list(COSINE_DECAY_CASES))
def test_cosine_decay(optax, uba_jax, variant, case) -> None:
    """CosineDecayTest.test_decay_count_smaller_count, test_decay_count_greater_count,
    test_decay_count_greater_count_with_alpha and test_with_exponent; and alpha > 1, which
    optax accepts (its rate rises to the floor, 0.15 for alpha=1.5), as ours does."""
    args, kwargs, counts, one_by_one = COSINE_DECAY_CASES[case]
    call = dict(zip(("init_value", "decay_steps", "alpha", "exponent"), args, strict=False)) | kwargs
    expected = optax_cosine(counts, call["init_value"], call["decay_steps"], call["alpha"], call.get("exponent", 1.0))
    got = {}
    for name, factory in {
        "builtin": optax.cosine_decay_schedule,
        "ours": functools.partial(uba_jax.uba_decay_schedule, phi=2.0),
    }.items():
        fn = variant(factory(*args, **kwargs))
        got[name] = np.array([fn(int(c)) for c in counts]) if one_by_one else np.asarray(fn(counts))
    assert_f32_close(got["ours"], expected, call["init_value"])
    assert_f32_close(got["ours"], got["builtin"], call["init_value"])


def test_cosine_decay_with_giant_int_steps(optax, uba_jax, variant) -> None:
    """CosineDecayTest.test_with_giant_int_steps: decay_steps=1e10 does not fit int32."""
    args = (1000.0, int(1e10), 0.0, 1)
    builtin = variant(optax.cosine_decay_schedule(*args))(int(1e9))
    ours = variant(uba_jax.uba_decay_schedule(*args, phi=2.0))(int(1e9))
    assert_f32_close(ours, optax_cosine(1e9, 1000.0, 1e10), 1000.0)
    assert_f32_close(ours, builtin, 1000.0)


@pytest.mark.parametrize(
    "init_value,peak_value,end_value", [(10, 0.5, 1e-4), (5, 3, 0.0)], ids=["with_end_value", "without_end_value"]
)
def test_warmup_cosine_limits(optax, uba_jax, variant, init_value, peak_value, end_value) -> None:
    """WarmupCosineDecayTest.test_limits: the rate is init_value at 0, peak_value at warmup_steps,
    end_value at decay_steps (warmup included); here also every 50 counts against optax."""
    kwargs = dict(init_value=init_value, peak_value=peak_value, warmup_steps=100, decay_steps=1000, end_value=end_value)
    builtin = variant(optax.warmup_cosine_decay_schedule(**kwargs))
    ours = variant(uba_jax.warmup_uba_decay_schedule(**kwargs, phi=2.0))
    scale = max(init_value, peak_value)
    assert_f32_close([ours(0), ours(100), ours(1000)], [init_value, peak_value, end_value], scale)
    counts = np.arange(0, 1101, 50)
    assert_f32_close([ours(int(c)) for c in counts], [builtin(int(c)) for c in counts], scale)


@pytest.mark.parametrize("end_value", [0.3, -3.0], ids=["end=0.3", "end=-3-upstream"])
def test_warmup_cosine_with_exponent(optax, uba_jax, variant, end_value) -> None:
    """WarmupCosineDecayTest.test_with_exponent: init 0.2, peak 1.21, warmup 50, decay 100, exponent 2.

    Upstream's end_value is -3.0. Difference: our rates must be >= 0, so that call
    raises a ValueError naming end_value; the curve is compared with end_value=0.3.
    """
    kwargs = dict(init_value=0.2, peak_value=1.21, end_value=end_value, warmup_steps=50, decay_steps=100, exponent=2)
    if end_value < 0:
        with pytest.raises(ValueError, match="end_value"):
            uba_jax.warmup_uba_decay_schedule(**kwargs, phi=2.0)
        return
    counts = np.array([0, 10, 50, 75, 100])
    warm = 0.2 + (1.21 - 0.2) * np.minimum(counts, 50) / 50
    decay = optax_cosine(counts - 50, 1.21, 50, end_value / 1.21, 2)
    expected = np.where(counts < 50, warm, decay)
    ours = variant(uba_jax.warmup_uba_decay_schedule(**kwargs, phi=2.0))(counts)
    builtin = variant(optax.warmup_cosine_decay_schedule(**kwargs))(counts)
    assert_f32_close(ours, expected, 1.21)
    assert_f32_close(ours, builtin, 1.21)


@pytest.mark.parametrize("end_value", [0.0, 0.5, -3.0], ids=["end=0", "end=0.5", "end=-3-upstream"])
def test_warmup_cosine_zero_peak_value(optax, uba_jax, variant, end_value) -> None:
    """WarmupCosineDecayTest.test_zero_peak_value: init 0.2, peak 0, warmup 50, decay 100, exponent 2.

    Upstream (end_value=-3.0) expects [0.2, 0.16, 0, 0, 0]: optax's floor is
    end_value / peak_value, taken as 0 when the peak is 0. Differences: a negative
    end_value raises here; end_value=0.5 > peak rises to 0.5 in ours (a floor above the
    peak is reached, as everywhere else), where optax stays at 0. end_value=0 agrees.
    """
    kwargs = dict(init_value=0.2, peak_value=0, end_value=end_value, warmup_steps=50, decay_steps=100, exponent=2)
    if end_value < 0:
        with pytest.raises(ValueError, match="end_value"):
            uba_jax.warmup_uba_decay_schedule(**kwargs, phi=2.0)
        return
    counts = np.array([0, 10, 50, 75, 100, 150])
    builtin = variant(optax.warmup_cosine_decay_schedule(**kwargs))(counts)
    ours = variant(uba_jax.warmup_uba_decay_schedule(**kwargs, phi=2.0))(counts)
    np.testing.assert_allclose(builtin, [0.2, 0.16, 0.0, 0.0, 0.0, 0.0], rtol=F32_RTOL, atol=1e-8)
    c = 0.5 * (1 + np.cos(np.pi * np.minimum(counts - 50, 50) / 50))
    expected = np.where(counts < 50, 0.2 - 0.2 * counts / 50, end_value * (1 - c**2))
    assert_f32_close(ours, expected, 0.2)


@pytest.mark.parametrize("lrs", [(1.6, 0.8, 0.4), (1.6, 1.6, 1.6)], ids=["with_step_decay", "without_step_decay"])
def test_sgdr_limits(optax, uba_jax, variant, lrs) -> None:
    """SGDRTest.test_limits: warmup cosine cycles of 2000, 3000 and 5000 counts (warmup 500 from 0);
    the rate peaks at 500, 2500 and 5500. The same cycles through uba_sgdr_schedule match
    optax.sgdr_schedule at every 250th count, and each cycle starts from 0 at its boundary."""
    cycles = [
        dict(decay_steps=n, peak_value=lr, init_value=0, end_value=0.0, warmup_steps=500)
        for n, lr in zip((2000, 3000, 5000), lrs, strict=True)
    ]
    builtin = variant(optax.sgdr_schedule(cycles))
    ours = variant(uba_jax.uba_sgdr_schedule(cycles, phi=2.0))
    assert_f32_close([ours(500), ours(2500), ours(5500)], lrs, max(lrs))
    assert_f32_close([ours(2000), ours(5000), ours(10_000), ours(20_000)], [0.0] * 4, max(lrs))
    counts = np.arange(0, 12_001, 250)
    assert_f32_close([ours(int(c)) for c in counts], [builtin(int(c)) for c in counts], max(lrs))


def test_cosine_rates_are_array_like(jax, optax, uba_jax) -> None:
    """optax's rates are ArrayLike (no upstream test): vmap over init_value and grad with
    respect to it, under jit, agree with the built-in (whose warmup schedule cannot
    trace peak_value: it branches on peak_value == 0)."""
    inits = np.array([0.1, 0.3, 1.0], np.float32)
    counts = np.array([0, 10, 50, 99, 150])

    def sweep(factory, **extra):
        return jax.jit(jax.vmap(lambda v: factory(v, 100, 0.1, **extra)(counts)))(inits)

    ours = sweep(uba_jax.uba_decay_schedule, phi=2.0)
    np.testing.assert_allclose(ours, sweep(optax.cosine_decay_schedule), rtol=F32_RTOL, atol=F32_RTOL)

    def grad(factory, **extra):
        return jax.jit(jax.grad(lambda v: factory(v, 100, 0.1, **extra)(40)))(0.5)

    g_ours, g_builtin = grad(uba_jax.uba_decay_schedule, phi=2.0), grad(optax.cosine_decay_schedule)
    np.testing.assert_allclose(g_ours, g_builtin, rtol=F32_RTOL, atol=F32_RTOL)
    np.testing.assert_allclose(g_ours, optax_cosine(40, 1.0, 100, 0.1), rtol=F32_RTOL)


# =====================================================================================
# keras: keras/src/optimizers/schedules/learning_rate_schedule_test.py
# =====================================================================================


def keras_pair(keras, uba_tf, *args, **kwargs):
    """CosineDecay and UBADecay(phi=2) from the same call."""
    return keras.optimizers.schedules.CosineDecay(*args, **kwargs), uba_tf.UBADecay(*args, **kwargs, phi=2.0)


def keras_cosine(step, decay_steps, alpha=0.0):
    """Upstream's np_cosine_decay: (1 - alpha) c + alpha with the step clipped at decay_steps."""
    c = 0.5 * (1.0 + math.cos(math.pi * min(step, decay_steps) / decay_steps))
    return (1.0 - alpha) * c + alpha


# id -> (args, alpha)
KERAS_DECAY_CASES = {
    "decay": ((1.0, 1000), 0.0),
    "alpha": ((1.0, 1000, 0.1), 0.1),
    "float64": ((np.float64(1.0), 1000), 0.0),
}


@pytest.mark.parametrize("case", list(KERAS_DECAY_CASES))
def test_keras_cosine_decay(keras, uba_tf, case) -> None:
    """CosineDecayTest.test_decay / test_alpha / test_float64 (steps 0 to 1250 by 250; the output
    dtype follows initial_learning_rate's, as in CosineDecay)."""
    args, alpha = KERAS_DECAY_CASES[case]
    builtin, ours = keras_pair(keras, uba_tf, *args)
    steps = range(0, 1500, 250)
    out = {"builtin": [builtin(s) for s in steps], "ours": [ours(s) for s in steps]}
    dtypes = {k: {keras.backend.standardize_dtype(x.dtype) for x in v} for k, v in out.items()}
    np.testing.assert_equal(dtypes["ours"], dtypes["builtin"])
    np.testing.assert_equal(dtypes["ours"], {"float64" if case == "float64" else "float32"})
    got = {k: np.array([keras.ops.convert_to_numpy(x) for x in v], np.float64) for k, v in out.items()}
    expected = [keras_cosine(s, 1000, alpha) for s in steps]
    rtol = 1e-12 if case == "float64" else F32_RTOL
    np.testing.assert_allclose(got["ours"], expected, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got["ours"], got["builtin"], rtol=rtol, atol=rtol)


@pytest.mark.parametrize(
    "decay_steps,warmup_steps,steps",
    [(10, 1500, range(0, 1500, 250)), (1000, 2000, range(0, 3000, 250))],
    ids=["warmup", "warmup_decay"],
)
def test_keras_cosine_warmup(keras, uba_tf, decay_steps, warmup_steps, steps) -> None:
    """CosineDecayTest.test_warmup / test_warmup_decay: from 0 to warmup_target=10 over warmup_steps,
    then the cosine from 10 over decay_steps (which excludes the warmup)."""
    target = 10.0
    builtin, ours = keras_pair(keras, uba_tf, 0.0, decay_steps, warmup_target=target, warmup_steps=warmup_steps)
    expected = [
        target * s / warmup_steps if s <= warmup_steps else target * keras_cosine(s - warmup_steps, decay_steps)
        for s in steps
    ]
    got = {
        k: np.array([float(keras.ops.convert_to_numpy(f(s))) for s in steps])
        for k, f in {"builtin": builtin, "ours": ours}.items()
    }
    np.testing.assert_allclose(got["ours"], expected, rtol=F32_RTOL, atol=F32_RTOL * target)
    np.testing.assert_allclose(got["ours"], got["builtin"], rtol=F32_RTOL, atol=F32_RTOL * target)


def test_keras_cosine_config(keras, uba_tf) -> None:
    """CosineDecayTest.test_config (run_class_serialization_test): get_config through JSON and
    from_config, then serialize_keras_object / deserialize_keras_object through JSON, give the
    same config and attributes; CosineDecay's keys keep CosineDecay's values."""
    kwargs = dict(
        initial_learning_rate=0.05, decay_steps=10, alpha=0.1, warmup_target=0.2, warmup_steps=2, name="my_cd"
    )
    builtin, ours = keras_pair(keras, uba_tf, **kwargs)
    config = ours.get_config()
    revived = type(ours).from_config(json.loads(json.dumps(config)))
    np.testing.assert_equal(revived.get_config(), config)
    np.testing.assert_equal(set(dir(revived)), set(dir(ours)))
    serialized = json.dumps(keras.saving.serialize_keras_object(ours))
    revived = keras.saving.deserialize_keras_object(json.loads(serialized))
    np.testing.assert_equal(type(revived), type(ours))
    np.testing.assert_equal(revived.get_config(), config)
    np.testing.assert_equal(set(dir(revived)), set(dir(ours)))
    np.testing.assert_equal({k: config[k] for k in builtin.get_config()}, builtin.get_config())
    steps = [0, 1, 2, 7, 12, 20]
    np.testing.assert_allclose(
        [float(keras.ops.convert_to_numpy(revived(s))) for s in steps],
        [float(keras.ops.convert_to_numpy(builtin(s))) for s in steps],
        rtol=F32_RTOL,
        atol=F32_RTOL * 0.2,
    )


def test_keras_warmup_steps_without_target(keras, uba_tf) -> None:
    """CosineDecay ignores warmup_steps when warmup_target is None (no upstream test); UBADecay
    ignores it too, and says so in a UserWarning."""
    builtin = keras.optimizers.schedules.CosineDecay(0.1, 100, warmup_steps=10)
    with pytest.warns(UserWarning, match="warmup_target"):
        ours = uba_tf.UBADecay(0.1, 100, warmup_steps=10, phi=2.0)
    steps = [0, 5, 10, 50, 100, 120]
    got = [float(keras.ops.convert_to_numpy(ours(s))) for s in steps]
    np.testing.assert_allclose(got, [0.1 * keras_cosine(s, 100) for s in steps], rtol=F32_RTOL, atol=F32_RTOL * 0.1)
    np.testing.assert_allclose(
        got, [float(keras.ops.convert_to_numpy(builtin(s))) for s in steps], rtol=F32_RTOL, atol=F32_RTOL * 0.1
    )


# --- CosineDecayRestarts ---------------------------------------------------------------


def keras_cosine_restarts(step, decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    """Upstream's np_cosine_decay_restarts: walk the cycles, then the cosine of the progress."""
    factor = 1.0
    while step >= decay_steps:
        step -= decay_steps
        decay_steps *= t_mul
        factor *= m_mul
    return (1.0 - alpha) * factor * 0.5 * (1.0 + math.cos(math.pi * step / decay_steps)) + alpha


# id -> (initial_learning_rate, keyword arguments); upstream uses 1000 steps per first cycle
KERAS_RESTART_CASES = {
    "decay": (1.0, {}),
    "float64": (np.float64(1.0), {}),
    "alpha": (1.0, {"alpha": 0.1}),
    "mmul": (1.0, {"m_mul": 0.9}),
    "tmul": (1.0, {"t_mul": 1.0}),
}


@pytest.mark.parametrize("case", list(KERAS_RESTART_CASES))
def test_keras_cosine_decay_restarts(keras, uba_tf, case) -> None:
    """CosineDecayRestartsTest.test_decay / test_float64 / test_alpha / test_mmul / test_tmul: steps
    0 to 1250 by 250 against the cycle-by-cycle formula; here also every 7th step to 20,000 against
    CosineDecayRestarts. The dtype follows initial_learning_rate's."""
    init, kwargs = KERAS_RESTART_CASES[case]
    builtin = keras.optimizers.schedules.CosineDecayRestarts(init, 1000, **kwargs)
    ours = uba_tf.UBADecayRestarts(init, 1000, **kwargs, phi=2.0)
    steps = list(range(0, 1500, 250))
    got = [ours(s) for s in steps]
    np.testing.assert_equal(
        {keras.backend.standardize_dtype(x.dtype) for x in got}, {"float64" if case == "float64" else "float32"}
    )
    got = np.array([keras.ops.convert_to_numpy(x) for x in got], np.float64)
    np.testing.assert_allclose(got, [keras_cosine_restarts(s, 1000, **kwargs) for s in steps], rtol=F32_RTOL, atol=1e-6)
    many = np.arange(0, 20_001, 7)
    ours_many = keras.ops.convert_to_numpy(ours(many)).astype(np.float64)
    builtin_many = keras.ops.convert_to_numpy(builtin(many)).astype(np.float64)
    # CosineDecayRestarts forms step / first_decay_steps in float32 and subtracts the cycle's
    # start from it: the position in the cycle is off by up to 2**-24 of the step count.
    atol = 1e-6 + math.pi / 2 * 2.0**-24 * many / 1000 * 2
    np.testing.assert_array_less(np.abs(ours_many - builtin_many), atol + F32_RTOL * np.abs(builtin_many))
    reference = [keras_cosine_restarts(float(s), 1000, **kwargs) for s in many]
    np.testing.assert_allclose(ours_many, reference, rtol=F32_RTOL, atol=1e-6)


def test_keras_cosine_decay_restarts_config(keras, uba_tf) -> None:
    """CosineDecayRestartsTest.test_config (run_class_serialization_test): initial 0.05, first 10,
    alpha 0.1, t_mul 3, m_mul 4, name my_cdr; get_config through JSON and from_config, then
    serialize_keras_object / deserialize_keras_object; CosineDecayRestarts' keys keep its values."""
    kwargs = dict(initial_learning_rate=0.05, first_decay_steps=10, alpha=0.1, t_mul=3.0, m_mul=4.0, name="my_cdr")
    builtin = keras.optimizers.schedules.CosineDecayRestarts(**kwargs)
    ours = uba_tf.UBADecayRestarts(**kwargs, phi=2.0)
    config = ours.get_config()
    revived = type(ours).from_config(json.loads(json.dumps(config)))
    np.testing.assert_equal(revived.get_config(), config)
    np.testing.assert_equal(set(dir(revived)), set(dir(ours)))
    revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(ours))))
    np.testing.assert_equal(type(revived), type(ours))
    np.testing.assert_equal(revived.get_config(), config)
    np.testing.assert_equal({k: config[k] for k in builtin.get_config()}, builtin.get_config())
    steps = np.arange(0, 400)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(revived(steps)),
        keras.ops.convert_to_numpy(builtin(steps)),
        rtol=F32_RTOL,
        atol=F32_RTOL * 0.05 * 4.0**3,
    )


def test_keras_cosine_decay_restarts_shrinking_cycles(keras, uba_tf) -> None:
    """t_mul < 1 (no upstream test): cycles of 10, 5, 2.5, ... end at 20. Until there both agree;
    from there CosineDecayRestarts gives NaN (the log of a negative number), ours the floor."""
    builtin = keras.optimizers.schedules.CosineDecayRestarts(0.1, 10, t_mul=0.5, alpha=0.2)
    ours = uba_tf.UBADecayRestarts(0.1, 10, t_mul=0.5, alpha=0.2, phi=2.0)
    before, after = np.arange(0, 19), np.arange(21, 40)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(before)),
        keras.ops.convert_to_numpy(builtin(before)),
        rtol=F32_RTOL,
        atol=F32_RTOL * 0.1,
    )
    assert np.all(np.isnan(keras.ops.convert_to_numpy(builtin(after))))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(after)), 0.02, rtol=F32_RTOL)
