"""uba_torch.UBALR: the core's curve in real torch loops, through save / load and SequentialLR."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from _hostile import BUDGET, assert_rejected, cases
from conftest import PARITY_CONFIGS, check_steps, framework, past_the_budget, sgd, step_lrs, torch_rates

torch = framework("torch", "torch")
from torch.optim.lr_scheduler import (  # noqa: E402
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from uba_core import UBAConfig  # noqa: E402
from uba_torch import UBALR, UBABudgetWarning, get_uba_schedule_with_warmup  # noqa: E402


def run(opt, sched, steps: int) -> list[list[float]]:
    """Do ``steps`` updates with d(loss)/dw = 1; return the lr each update actually used.

    The used lr is read back from the parameter change (w_{k+1} = w_k - lr_k * 1).
    """
    used = []
    for _ in range(steps):
        before = [g["params"][0].detach().clone() for g in opt.param_groups]
        opt.zero_grad()
        sum(g["params"][0] for g in opt.param_groups).backward()
        opt.step()
        sched.step()
        used.append([float(b - g["params"][0].detach()) for b, g in zip(before, opt.param_groups, strict=True)])
    return used


def lrs_of(opt, sched, steps: int) -> np.ndarray:
    """The lr of group 0 before each of ``steps`` updates, ``sched`` stepped after each."""
    return step_lrs(opt, [sched], steps)[:, 0]


def test_parity_with_the_core_exactly(parity_config: UBAConfig) -> None:
    steps = check_steps(parity_config)
    np.testing.assert_array_equal(torch_rates(parity_config, steps), parity_config(steps))


def test_real_loop_uses_lr_k_at_update_k_per_group() -> None:
    opt = sgd((0.1, 0.02))
    sched = UBALR(opt, T_max=30, phi=5.0, eta_min=[0.001, 0.0], warmup_steps=4, warmup_start_lr=[0.01, 0.0])
    with past_the_budget():  # 40 updates of a budget of 30
        used = np.array(run(opt, sched, 40))
    cfgs = [
        UBAConfig(total_steps=30, peak_lr=0.1, phi=5.0, min_lr=0.001, warmup_steps=4, warmup_start_lr=0.01),
        UBAConfig(total_steps=30, peak_lr=0.02, phi=5.0, warmup_steps=4),
    ]
    for i, cfg in enumerate(cfgs):
        np.testing.assert_allclose(used[:, i], cfg(np.arange(40)), rtol=1e-12, atol=1e-15)
    assert sched.get_last_lr() == [float(c(40)) for c in cfgs]


@pytest.mark.parametrize("shape", [{"phi": 2.0}, {}], ids=["phi=2", "default-phi"])
@pytest.mark.parametrize("T,eta_min", [(10, 0.0), (100, 0.001), (1000, 0.05)])
def test_phi_two_is_torch_cosine_annealing(T: int, eta_min: float, shape: dict) -> None:
    ours_opt, theirs_opt = sgd(), sgd()
    ours = UBALR(ours_opt, T_max=T, eta_min=eta_min, **shape)
    theirs = CosineAnnealingLR(theirs_opt, T_max=T, eta_min=eta_min)
    a, b = [], []
    with past_the_budget():  # the last step reaches T + 1
        for _ in range(T + 1):
            a.append(ours_opt.param_groups[0]["lr"])
            b.append(theirs_opt.param_groups[0]["lr"])
            ours_opt.step(), theirs_opt.step()
            ours.step(), theirs.step()
    # CosineAnnealingLR updates recursively; its rounding drifts by a few ulps.
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # Past T_max the built-in climbs back up; UBALR holds the floor.
    for _ in range(T // 2):
        ours_opt.step(), theirs_opt.step()
        ours.step(), theirs.step()
    assert ours_opt.param_groups[0]["lr"] == eta_min
    assert theirs_opt.param_groups[0]["lr"] > eta_min + 0.01 * (0.1 - eta_min)


def test_closed_form_and_epoch_argument_agree_with_the_core() -> None:
    cfg = PARITY_CONFIGS["T1000-phi50-floor-warm"]
    sched = UBALR.from_uba_config(sgd(), cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the deprecated epoch argument warns
        for step in (0, 99, 100, 500, 1000, 1200):
            sched.step(step)
            assert sched.optimizer.param_groups[0]["lr"] == float(cfg(step))
            assert sched._get_closed_form_lr() == [float(cfg(step))]


def test_inside_sequential_lr_after_a_linear_warmup() -> None:
    opt = sgd()
    warm = LinearLR(opt, start_factor=0.1, total_iters=5)
    uba = UBALR(opt, T_max=20, phi=3.0, eta_min=0.001)
    sched = SequentialLR(opt, [warm, uba], milestones=[5])
    with past_the_budget():  # UBALR's 20 steps end at update 25
        used = np.array(run(opt, sched, 30))[:, 0]
    linear = 0.1 * (0.1 + 0.9 * np.arange(5) / 5)
    core = UBAConfig(total_steps=20, peak_lr=0.1, phi=3.0, min_lr=0.001)(np.arange(25))
    np.testing.assert_allclose(used, np.concatenate([linear, core]), rtol=1e-12, atol=1e-15)


def test_tensor_lr_stays_the_same_tensor() -> None:
    w = torch.nn.Parameter(torch.zeros(()))
    lr = torch.tensor(0.05)
    opt = torch.optim.SGD([w], lr=lr)
    sched = UBALR(opt, T_max=12, phi=0.5, warmup_steps=2)
    cfg = UBAConfig(total_steps=12, peak_lr=0.05, phi=0.5, warmup_steps=2)
    tensor = opt.param_groups[0]["lr"]
    with past_the_budget():  # 15 steps of a budget of 12
        for k in range(15):
            assert opt.param_groups[0]["lr"] is tensor
            assert float(tensor) == pytest.approx(float(cfg(k)), rel=1e-6, abs=1e-9)  # float32 tensor
            opt.step()
            sched.step()


def test_resume_from_a_weights_only_checkpoint_matches_an_uninterrupted_run(tmp_path) -> None:
    kwargs = dict(T_max=40, phi=0.7, eta_min=0.002, warmup_steps=5, warmup_start_lr=0.01)
    torch.manual_seed(0)
    opt = sgd((0.1, 0.03), momentum=0.9)
    sched = UBALR(opt, **kwargs)
    with past_the_budget():  # 50 updates of a budget of 40
        reference = run(opt, sched, 50)

    opt = sgd((0.1, 0.03), momentum=0.9)
    sched = UBALR(opt, **kwargs)
    first = run(opt, sched, 17)
    torch.save(
        {
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "params": [g["params"][0].detach() for g in opt.param_groups],
        },
        tmp_path / "ckpt.pt",
    )

    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    opt2 = sgd((0.1, 0.03), momentum=0.9)
    with torch.no_grad():
        for g, p in zip(opt2.param_groups, ckpt["params"], strict=True):
            g["params"][0].copy_(p)
    sched2 = UBALR(opt2, **kwargs)
    opt2.load_state_dict(ckpt["opt"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same config: no warning
        sched2.load_state_dict(ckpt["sched"])
    with past_the_budget():  # the resumed run passes the budget too
        second = run(opt2, sched2, 33)
    np.testing.assert_array_equal(np.array(first + second), np.array(reference))


def test_state_dict_holds_plain_types_only() -> None:
    sched = UBALR(sgd((0.1, 0.2)), T_max=10, phi=2.0, eta_min=[0.0, 0.01])

    def walk(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and walk(v) for k, v in x.items())
        if isinstance(x, list):
            return all(walk(v) for v in x)
        return type(x) in (int, float, bool, str, type(None))

    assert walk(sched.state_dict())


def test_loading_a_different_config_warns_with_both() -> None:
    old = UBALR(sgd(), T_max=100, phi=4.0)
    new = UBALR(sgd(), T_max=100, phi=5.0)  # another budget: tests/test_budgets_torch.py
    with pytest.warns(UserWarning, match=r"(?s)checkpoint.*'phi': 4\.0.*'phi': 5\.0"):
        new.load_state_dict(old.state_dict())
    assert new.configs == old.configs  # torch's rule: the loaded state wins


def test_constructor_resume_applies_lr_of_n_plus_one() -> None:
    opt = sgd()
    UBALR(opt, T_max=50, phi=2.0)  # sets initial_lr, as a first run would
    opt.param_groups[0]["lr"] = 123.0
    UBALR(opt, T_max=50, phi=2.0, last_epoch=9)
    assert opt.param_groups[0]["lr"] == float(UBAConfig(total_steps=50, peak_lr=0.1, phi=2.0)(10))


def test_stale_initial_lr_wins_unless_peak_lr_is_given() -> None:
    opt = sgd((0.1,))
    opt.param_groups[0]["initial_lr"] = 0.5  # e.g. from a loaded optimizer state
    assert UBALR(opt, T_max=10, phi=2.0).configs[0].peak_lr == 0.5
    opt.param_groups[0]["initial_lr"] = 0.5
    sched = UBALR(opt, T_max=10, phi=2.0, peak_lr=0.1)
    assert sched.configs[0].peak_lr == 0.1 and opt.param_groups[0]["lr"] == 0.1


def test_from_config_matches_keyword_construction() -> None:
    cfg = UBAConfig(total_steps=30, peak_lr=0.2, phi=6.0, min_lr=0.01, warmup_steps=3, warmup_start_lr=0.05)
    a = UBALR.from_uba_config(sgd((0.7,)), cfg)
    b = UBALR(sgd((0.2,)), T_max=30, phi=6.0, eta_min=0.01, warmup_steps=3, warmup_start_lr=0.05)
    assert a.configs == b.configs == [cfg]


# --- hostile arguments: tests/_hostile.py's table in torch's argument names ---------------

# Two param groups: eta_min, warmup_start_lr and peak_lr take one value per group, so a
# list is rejected for its length, and peak_lr=None means each group's own lr.
PER_GROUP = {"min_lr": "eta_min", "warmup_start_lr": "warmup_start_lr", "peak_lr": "peak_lr"}
UBALR_NAMES = {
    "total_steps": "T_max",
    "phi": "phi",
    "warmup_steps": "warmup_steps",
    "exponent": "exponent",
    "last_epoch": "last_epoch",
    **PER_GROUP,
}
UBALR_BASE = {"T_max": BUDGET, "phi": 2.0, "eta_min": 0.0, "last_epoch": -1, "warmup_steps": 10, "warmup_start_lr": 0.0}
WRONG_LENGTH = (ValueError, "must have one value per param group (2)")
FACTORY_NAMES = {
    "warmup_steps": "num_warmup_steps",
    "total_steps": "num_training_steps",
    "min_lr": "min_lr",
    "phi": "phi",
    "last_epoch": "last_epoch",
}
CONFIG = UBAConfig(total_steps=BUDGET, peak_lr=0.1, phi=2.0)

HOSTILE_CASES = [
    *cases(
        "UBALR",
        lambda **kw: UBALR(sgd((0.1, 0.05)), **{**UBALR_BASE, **kw}),
        UBALR_NAMES,
        valid={"peak_lr": {"none"}},
        errors={(field, "list"): WRONG_LENGTH for field in PER_GROUP},
    ),
    *cases(
        "UBALR.from_uba_config",
        lambda **kw: UBALR.from_uba_config(sgd(), **{"config": CONFIG, **kw}),
        {"last_epoch": "last_epoch", "config": "config"},
    ),
    *cases(
        "get_uba_schedule_with_warmup",
        lambda **kw: get_uba_schedule_with_warmup(
            sgd(), **{"num_warmup_steps": 10, "num_training_steps": BUDGET, **kw}
        ),
        FACTORY_NAMES,
    ),
]


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_hostile_arguments_fail_at_construction_naming_them(build, arg: str, bad) -> None:
    assert_rejected(build, arg, bad)


@pytest.mark.parametrize("arg", list(PER_GROUP.values()))
@pytest.mark.parametrize("value", [[0.01], [0.01, 0.01, 0.01], [], (0.01,)], ids=["short", "long", "empty", "tuple"])
def test_per_group_lists_of_the_wrong_length(arg: str, value) -> None:
    with pytest.raises(ValueError, match=r"must have one value per param group \(2\)") as info:
        UBALR(sgd((0.1, 0.05)), **{**UBALR_BASE, arg: value})
    assert f"{len(value)} values: {arg}={value!r}" in str(info.value)


@pytest.mark.parametrize("arg", list(PER_GROUP.values()))
@pytest.mark.parametrize(
    "bad,error",
    [("0.01", TypeError), (float("nan"), ValueError), (-0.01, ValueError), (True, TypeError)],
    ids=["str", "nan", "negative", "bool"],
)
def test_per_group_lists_with_a_bad_entry(arg: str, bad, error) -> None:
    with pytest.raises(error, match=f"`{arg}`") as info:
        UBALR(sgd((0.1, 0.05)), **{**UBALR_BASE, arg: [0.1, bad]})
    assert f"{arg}={bad!r}" in str(info.value)


@pytest.mark.parametrize("optimizer", [None, "params"], ids=["none", "tensors"])
def test_not_an_optimizer(optimizer) -> None:
    optimizer = [torch.zeros(1)] if optimizer == "params" else optimizer
    with pytest.raises(TypeError, match=r"`optimizer` must be a torch\.optim\.Optimizer") as info:
        UBALR(optimizer, T_max=10, phi=2.0)
    assert f"optimizer={optimizer!r}" in str(info.value)


def test_a_negative_group_lr_is_named() -> None:
    opt = sgd()
    opt.param_groups[0]["lr"] = -0.1
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\].*-0.1"):
        UBALR(opt, T_max=10, phi=2.0)


# --- a drop-in for CosineAnnealingLR ---------------------------------------------------


def test_the_built_ins_positional_call_means_the_same() -> None:
    ours_opt, theirs_opt = sgd(), sgd()
    ours, theirs = UBALR(ours_opt, 20, 1e-3), CosineAnnealingLR(theirs_opt, 20, 1e-3)
    assert (ours.T_max, ours.eta_min, ours.phi) == (20, 1e-3, 2.0)
    assert (ours.T_max, ours.eta_min) == (theirs.T_max, theirs.eta_min)
    with past_the_budget():  # 21 updates of a budget of 20
        ours_lrs = lrs_of(ours_opt, ours, 21)
    np.testing.assert_allclose(ours_lrs, lrs_of(theirs_opt, theirs, 21), rtol=1e-12)


def test_an_integral_float_budget_is_the_integer_budget() -> None:
    a, b = UBALR(sgd(), 10.0, phi=3.0), UBALR(sgd(), 10, phi=3.0)
    assert a.T_max == 10 and type(a.T_max) is int and a.configs == b.configs


@pytest.mark.parametrize("lr", [0.0, 0.01], ids=["frozen-group", "lr-below-eta_min"])
def test_eta_min_above_a_groups_lr_anneals_toward_it_like_torch(lr: float) -> None:
    ours_opt, theirs_opt = sgd((0.1, lr)), sgd((0.1, lr))
    ours, theirs = UBALR(ours_opt, 16, 0.05), CosineAnnealingLR(theirs_opt, 16, 0.05)
    for _ in range(16):
        assert ours_opt.param_groups[1]["lr"] == pytest.approx(theirs_opt.param_groups[1]["lr"], rel=1e-12, abs=1e-17)
        ours_opt.step(), theirs_opt.step(), ours.step(), theirs.step()
    assert ours_opt.param_groups[1]["lr"] == 0.05


def test_a_group_added_later_follows_the_schedule() -> None:
    opt = sgd((0.1,))
    sched = UBALR(opt, 30, 0.001, phi=4.0, warmup_steps=3)
    lrs_of(opt, sched, 7)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros((), dtype=torch.float64))], "lr": 0.5})
    with past_the_budget():
        used = np.array(run(opt, sched, 30))  # steps 7..36, the last ones past the budget
    for i, peak in enumerate((0.1, 0.5)):
        cfg = UBAConfig(total_steps=30, peak_lr=peak, phi=4.0, min_lr=0.001, warmup_steps=3)
        np.testing.assert_allclose(used[1:, i], cfg(np.arange(8, 37)), rtol=1e-12)
    assert sched.configs[1].peak_lr == 0.5 and len(sched.base_lrs) == 2


def test_a_group_added_later_with_per_group_options_is_refused_with_the_reason() -> None:
    opt = sgd((0.1,))
    sched = UBALR(opt, 30, eta_min=[0.001])
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(()))], "lr": 0.5})
    opt.step()  # no gradients: a no-op, but the order torch expects (else torch warns)
    with pytest.raises(ValueError, match=r"param_groups\[1\] was added after UBALR was built"):
        sched.step()


def test_a_cosine_annealing_checkpoint_continues_in_ubalr() -> None:
    reference_opt = sgd((0.1, 0.02))
    reference = CosineAnnealingLR(reference_opt, 40, 0.001)
    expected = lrs_of(reference_opt, reference, 40)

    opt = sgd((0.1, 0.02))
    cosine = CosineAnnealingLR(opt, 40, 0.001)
    first = lrs_of(opt, cosine, 15)
    state = cosine.state_dict()
    opt2 = sgd((0.1, 0.02))
    ours = UBALR(opt2, 40)  # the user swaps in UBALR, phi defaults to 2
    opt2.load_state_dict(opt.state_dict())
    with pytest.warns(
        UserWarning,
        match=r"CosineAnnealingLR checkpoint \(T_max=40, eta_min=0.001, step 15\); "
        r"continuing it with phi=2.0",
    ):
        ours.load_state_dict(state)
    np.testing.assert_allclose(np.concatenate([first, lrs_of(opt2, ours, 25)]), expected, rtol=1e-12)
    assert (ours.T_max, ours.eta_min, ours.last_epoch) == (40, 0.001, 40)


def test_after_load_state_dict_the_state_equals_the_source() -> None:
    opt = sgd((0.1, 0.03))
    sched = UBALR(opt, 40, [0.0, 0.001], phi=0.7, warmup_steps=3)
    lrs_of(opt, sched, 5)
    opt.param_groups[0]["lr"] *= 0.5  # an external change: a factor on the curve from now on
    lrs_of(opt, sched, 4)
    source = sched.state_dict()
    target = UBALR(sgd((0.1, 0.03)), 40, [0.0, 0.001], phi=0.7, warmup_steps=3)
    target.load_state_dict(source)
    assert target.state_dict() == source


def test_get_lr_outside_step_warns_and_changes_nothing() -> None:
    opt = sgd()
    sched = UBALR(opt, 10)
    lrs_of(opt, sched, 3)
    before = sched.state_dict()
    lr3 = [float(UBAConfig(total_steps=10, peak_lr=0.1)(3))]
    with pytest.warns(UserWarning, match=r"please use `get_last_lr\(\)`"):
        assert sched.get_lr() == lr3
    assert sched.state_dict() == before and sched.get_last_lr() == lr3


# --- composition: external changes persist, as with the recursive built-in -----------

PARTNERS = {
    "LinearLR": lambda o: LinearLR(o, start_factor=0.25, total_iters=3),
    "StepLR": lambda o: StepLR(o, step_size=4, gamma=0.3),
    "ExponentialLR": lambda o: ExponentialLR(o, gamma=0.9),
}


# The group's lr as a float, or as a tensor (float64: compared with the built-in to the same
# rtol; float32: within the built-in's float32 roundings, one per step).
LR_KINDS = {"float": (None, 1e-12), "tensor64": ("float64", 1e-12), "tensor32": ("float32", 1e-6)}


def sgd_lr_kind(kind: str):
    dtype, _ = LR_KINDS[kind]
    return sgd((0.1 if dtype is None else torch.tensor(0.1, dtype=getattr(torch, dtype)),))


@pytest.mark.parametrize("kind", list(LR_KINDS))
@pytest.mark.parametrize("partner", list(PARTNERS))
def test_chained_with_a_multiplicative_scheduler_like_cosine_annealing(partner: str, kind: str) -> None:
    ours_opt, theirs_opt = sgd_lr_kind(kind), sgd_lr_kind(kind)
    ours = ChainedScheduler([UBALR(ours_opt, 12), PARTNERS[partner](ours_opt)])
    theirs = ChainedScheduler([CosineAnnealingLR(theirs_opt, 12), PARTNERS[partner](theirs_opt)])
    got, want = lrs_of(ours_opt, ours, 12), lrs_of(theirs_opt, theirs, 12)
    np.testing.assert_allclose(got, want, rtol=LR_KINDS[kind][1])
    assert max(got) <= float(torch.tensor(0.1, dtype=torch.float32)) * (1 + 1e-7)  # no 1.95x peak from LinearLR


@pytest.mark.parametrize("kind", list(LR_KINDS))
def test_a_reduce_on_plateau_cut_persists(kind: str) -> None:
    ours_opt, theirs_opt = sgd_lr_kind(kind), sgd_lr_kind(kind)
    ours, theirs = UBALR(ours_opt, 20), CosineAnnealingLR(theirs_opt, 20)
    cuts = [ReduceLROnPlateau(o, factor=0.1, patience=2) for o in (ours_opt, theirs_opt)]
    losses = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8] + [0.5] * 13
    got, want = [], []
    for loss in losses:
        for opt, sched, cut, out in ((ours_opt, ours, cuts[0], got), (theirs_opt, theirs, cuts[1], want)):
            out.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step()
            cut.step(loss)
    rtol = LR_KINDS[kind][1]
    np.testing.assert_allclose(got, want, rtol=rtol)
    cfg = UBAConfig(total_steps=20, peak_lr=0.1)
    assert got[10] == pytest.approx(0.1 * float(cfg(10)), rel=rtol)  # cut once, at step 6


@pytest.mark.parametrize("kind", ["tensor64", "tensor32"])
def test_a_user_write_into_a_tensor_lr_is_a_factor(kind: str) -> None:
    opt = sgd_lr_kind(kind)
    sched = UBALR(opt, 20)
    lrs_of(opt, sched, 4)
    lr = opt.param_groups[0]["lr"]
    before = float(lr)
    lr.mul_(0.5)  # in place, as a user or another scheduler would
    used = lrs_of(opt, sched, 4)
    cfg = UBAConfig(total_steps=20, peak_lr=float(torch.tensor(0.1, dtype=lr.dtype)))
    np.testing.assert_allclose(used[0], 0.5 * before, rtol=1e-15)
    np.testing.assert_allclose(used[1:], 0.5 * cfg(np.arange(5, 8)), rtol=LR_KINDS[kind][1])


@pytest.mark.parametrize("to", ["tensor", "float"])
def test_a_group_lr_replaced_by_the_other_kind_keeps_its_factor(to: str) -> None:
    opt = sgd_lr_kind("float" if to == "tensor" else "tensor64")
    sched = UBALR(opt, 20)
    lrs_of(opt, sched, 4)
    half = 0.5 * float(opt.param_groups[0]["lr"])
    opt.param_groups[0]["lr"] = torch.tensor(half, dtype=torch.float64) if to == "tensor" else half
    used = lrs_of(opt, sched, 4)
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor) == (to == "tensor")  # the new kind stays
    np.testing.assert_allclose(used[1:], 0.5 * UBAConfig(total_steps=20, peak_lr=0.1)(np.arange(5, 8)), rtol=1e-12)


# --- a tensor lr is never read back to the host ----------------------------------------------------


class HostReads(torch.overrides.TorchFunctionMode):
    """Counts the calls that copy a tensor's value to the host: on an accelerator each one is a
    device synchronisation (and breaks CUDA-graph capture)."""

    READS = (torch.Tensor.__bool__, torch.Tensor.item, torch.Tensor.__float__, torch.Tensor.tolist)

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in self.READS
        return func(*args, **(kwargs or {}))


def host_reads(opt, schedulers, steps: int) -> int:
    """The host reads of ``steps`` rounds of optimizer and scheduler steps (the optimizer itself
    reads nothing: there are no gradients)."""
    with HostReads() as reads:
        for _ in range(steps):
            opt.step()
            for sched in schedulers:
                sched.step()
    return reads.count


def tensor_sgd():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=torch.tensor(0.1))


def test_the_host_read_counter_sees_a_read() -> None:
    lr = torch.tensor(0.1)
    with HostReads() as reads:
        float(lr)
        bool(lr > 0)
        lr.item()
        lr.tolist()
    assert reads.count >= 4


SYNC_FREE = {
    "UBALR": lambda o: [UBALR(o, 20, 0.001, phi=4.0, warmup_steps=3)],
    "CosineAnnealingLR": lambda o: [CosineAnnealingLR(o, 20, 0.001)],
    "UBALR+ExponentialLR": lambda o: [UBALR(o, 20), ExponentialLR(o, gamma=0.9)],
    "UBALR+StepLR": lambda o: [UBALR(o, 20), StepLR(o, step_size=4, gamma=0.3)],
}


@pytest.mark.parametrize("schedulers", list(SYNC_FREE))
def test_a_tensor_lr_is_never_read_back(schedulers: str) -> None:
    opt = tensor_sgd()
    built = SYNC_FREE[schedulers](opt)
    past = past_the_budget() if "UBALR" in schedulers else contextlib.nullcontext()
    with past:
        assert host_reads(opt, built, 25) == 0  # past T_max too


def test_a_tensor_lr_is_never_read_back_after_a_plateau_cut_or_a_load() -> None:
    opt = tensor_sgd()
    sched = UBALR(opt, 20)
    host_reads(opt, [sched], 3)
    ReduceLROnPlateau(opt, factor=0.1, patience=0).step(1.0)  # its own read, not counted
    assert host_reads(opt, [sched], 5) == 0
    again = UBALR(tensor_sgd(), 20)
    again.load_state_dict(sched.state_dict())
    assert host_reads(again.optimizer, [again], 5) == 0
    cfg = UBAConfig(total_steps=20, peak_lr=float(torch.tensor(0.1)))
    np.testing.assert_allclose(float(again.optimizer.param_groups[0]["lr"]), float(cfg(13)), rtol=1e-6)


@pytest.mark.parametrize("lr", ["tensor", "float"])
def test_a_compiled_capturable_adam_step_does_not_recompile_with_a_tensor_lr(lr: str) -> None:
    """Dynamo guards on a float lr (a new value recompiles) and not on a tensor lr's value.
    The float lr shows that the check sees a recompile; the backend does not change the guards,
    so the quick "eager" one is enough here (benchmarks/overhead.py times inductor)."""
    import torch._dynamo

    torch._dynamo.reset()
    param = torch.nn.Parameter(torch.ones(4))
    opt = torch.optim.Adam([param], lr=torch.tensor(0.01) if lr == "tensor" else 0.01, capturable=True)
    sched = UBALR(opt, 20, phi=4.0)

    @torch.compile(backend="eager")
    def opt_step() -> None:
        opt.step()

    def train(steps: int) -> None:
        for _ in range(steps):
            param.grad = torch.ones(4)
            opt_step()
            sched.step()

    try:
        train(1)
        with torch._dynamo.config.patch(error_on_recompile=True):
            if lr == "tensor":
                train(6)
            else:
                with pytest.raises(torch._dynamo.exc.RecompileError):
                    train(6)
    finally:
        torch._dynamo.reset()
    if lr == "tensor":
        cfg = UBAConfig(total_steps=20, peak_lr=float(torch.tensor(0.01)), phi=4.0)
        np.testing.assert_allclose(float(opt.param_groups[0]["lr"]), float(cfg(7)), rtol=1e-6)


def test_alone_on_a_float32_tensor_lr_it_writes_the_rounded_core_exactly() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=torch.tensor(0.05))
    sched = UBALR(opt, 30, 0.001, phi=5.0, warmup_steps=4)
    cfg = UBAConfig(total_steps=30, peak_lr=float(torch.tensor(0.05)), phi=5.0, min_lr=0.001, warmup_steps=4)
    with past_the_budget():  # 35 steps of a budget of 30
        for k in range(35):
            assert float(opt.param_groups[0]["lr"]) == float(np.float32(cfg(k)))
            opt.step()
            sched.step()
    assert sched._ratios == [1.0]


def test_sequential_lr_restart_carries_no_factor() -> None:
    opt = sgd()
    uba = UBALR(opt, 10, warmup_steps=3, warmup_start_lr=0.0)
    seq = SequentialLR(opt, [uba, ConstantLR(opt, factor=0.5, total_iters=100)], milestones=[10])
    used = lrs_of(opt, seq, 10)
    np.testing.assert_allclose(
        used, UBAConfig(total_steps=10, peak_lr=0.1, warmup_steps=3)(np.arange(10)), rtol=1e-12, atol=1e-17
    )


# --- the budget guardrail --------------------------------------------------------------


def test_a_full_budget_does_not_warn_and_one_step_past_it_warns_once() -> None:
    opt = sgd()
    sched = UBALR(opt, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs_of(opt, sched, 8)  # the usual loop: 8 updates, 8 scheduler steps
    with pytest.warns(UBABudgetWarning, match="step 9 > T_max=8"):
        lrs_of(opt, sched, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs_of(opt, sched, 5)  # once only
    assert opt.param_groups[0]["lr"] == 0.0
    assert issubclass(UBABudgetWarning, UserWarning)


def test_the_budget_warning_can_be_made_an_error() -> None:
    opt = sgd()
    sched = UBALR(opt, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UBABudgetWarning)
        lrs_of(opt, sched, 3)
        with pytest.raises(UBABudgetWarning):
            lrs_of(opt, sched, 1)


def test_a_checkpoint_without_factors_continues_the_curve() -> None:
    """A state saved before UBALR carried factors (version 0.1) has no _ratios / _written."""
    opt = sgd()
    sched = UBALR(opt, 20, phi=3.0)
    lrs_of(opt, sched, 6)
    old = {
        k: v
        for k, v in sched.state_dict().items()
        if k not in ("_ratios", "_written", "_new_group", "_peak_given", "_past_budget_warned")
    }
    opt2 = sgd()
    resumed = UBALR(opt2, 20, phi=3.0)
    opt2.load_state_dict(opt.state_dict())
    resumed.load_state_dict(old)
    np.testing.assert_array_equal(
        lrs_of(opt2, resumed, 14), UBAConfig(total_steps=20, peak_lr=0.1, phi=3.0)(np.arange(6, 20))
    )


@pytest.mark.parametrize("build", ["peak_lr", "from_config", "default"])
def test_a_partner_built_first_keeps_its_factor_whatever_the_peak_source(build: str) -> None:
    """ConstantLR applies its factor when built; UBALR built after it keeps that factor."""

    def ubalr(opt):
        if build == "peak_lr":
            return UBALR(opt, 10, peak_lr=0.1)
        if build == "from_config":
            return UBALR.from_uba_config(opt, UBAConfig(total_steps=10, peak_lr=0.1))
        return UBALR(opt, 10)

    ours_opt, theirs_opt = sgd(), sgd()
    ours = ChainedScheduler([ConstantLR(ours_opt, 0.1, 2), ubalr(ours_opt)])
    theirs = ChainedScheduler([ConstantLR(theirs_opt, 0.1, 2), CosineAnnealingLR(theirs_opt, 10)])
    np.testing.assert_allclose(lrs_of(ours_opt, ours, 10), lrs_of(theirs_opt, theirs, 10), rtol=1e-12)


@pytest.mark.parametrize("value", [0, np.float64(0.01), np.float32(0.01)], ids=["int", "numpy64", "numpy32"])
def test_an_lr_set_to_an_int_or_numpy_value_is_a_factor(value) -> None:
    opt = sgd()
    sched = UBALR(opt, 20)
    lrs_of(opt, sched, 4)
    written = opt.param_groups[0]["lr"]
    opt.param_groups[0]["lr"] = value
    used = lrs_of(opt, sched, 4)
    cfg = UBAConfig(total_steps=20, peak_lr=0.1)
    np.testing.assert_allclose(used[1:], float(value) / written * cfg(np.arange(5, 8)), rtol=1e-6)


def test_numpy_arguments_keep_the_state_loadable_with_weights_only(tmp_path) -> None:
    opt = sgd()
    sched = UBALR(opt, np.int64(20), np.float64(1e-4), phi=np.float32(3.0), warmup_start_lr=np.float64(0.0))
    lrs_of(opt, sched, 3)
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    assert torch.load(tmp_path / "s.pt", weights_only=True)["configs"] == [c.to_dict() for c in sched.configs]


def test_an_added_group_peaks_at_its_own_lr_even_with_one_peak_lr() -> None:
    opt = sgd()
    sched = UBALR(opt, 10, peak_lr=0.1)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros((), dtype=torch.float64))], "lr": 0.01})
    lrs_of(opt, sched, 1)
    assert opt.param_groups[1]["lr"] == float(UBAConfig(total_steps=10, peak_lr=0.01)(1))


def test_an_added_tensor_lr_group_keeps_its_peak_apart_from_its_rate() -> None:
    opt = sgd()
    sched = UBALR(opt, 10)
    lr = torch.tensor(0.05)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(()))], "lr": lr})
    lrs_of(opt, sched, 4)
    group = opt.param_groups[1]
    assert group["lr"] is lr and group["initial_lr"] is not lr
    peak = float(torch.tensor(0.05))  # the float32 tensor's value
    assert float(group["initial_lr"]) == peak and sched.configs[1].peak_lr == peak


def test_a_foreign_checkpoint_is_refused_naming_what_it_got() -> None:
    other = LinearLR(sgd(), 0.5, total_iters=3)
    with pytest.raises(
        ValueError, match=r"UBALR or of a CosineAnnealingLR\. Received a state with keys \[.*'end_factor'"
    ):
        UBALR(sgd(), 10).load_state_dict(other.state_dict())


def test_the_factory_keeps_transformers_positional_order() -> None:
    from uba_torch import get_uba_schedule_with_warmup

    with pytest.raises(TypeError):  # transformers' 4th positional is num_cycles: no silent meaning
        get_uba_schedule_with_warmup(sgd(), 2, 10, 0.5)
    with pytest.raises(ValueError, match="`num_warmup_steps` must be < `num_training_steps`"):
        get_uba_schedule_with_warmup(sgd(), 10, 10)


@pytest.mark.parametrize("warmup", [0, 5], ids=["no-warmup", "warmup-from-0"])
def test_resume_with_the_optimizer_state_loaded_before_the_scheduler_is_built(warmup: int) -> None:
    kwargs = dict(T_max=40, eta_min=0.001, phi=4.0, warmup_steps=warmup)
    opt = sgd()
    sched = UBALR(opt, **kwargs)
    reference = lrs_of(opt, sched, 40)

    opt = sgd()
    sched = UBALR(opt, **kwargs)
    first = lrs_of(opt, sched, 17)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    opt2 = sgd()
    opt2.load_state_dict(opt_state)  # before the scheduler: building it writes lr(0)
    sched2 = UBALR(opt2, **kwargs)
    sched2.load_state_dict(sched_state)
    np.testing.assert_array_equal(np.concatenate([first, lrs_of(opt2, sched2, 23)]), reference)
