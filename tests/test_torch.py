"""uba_torch.UBALR: the core's curve in real torch loops, through save / load and SequentialLR."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import PARITY_CONFIGS, check_steps, framework, torch_rates

torch = framework("torch", "torch")
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR  # noqa: E402

from uba_core import UBAConfig  # noqa: E402
from uba_torch import UBALR  # noqa: E402


def make_optimizer(lrs=(0.1,), dtype=torch.float64, momentum=0.0):
    """SGD over one scalar parameter per group, one group per lr."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros((), dtype=dtype))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0], momentum=momentum)


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
        used.append([float(b - g["params"][0].detach()) for b, g in zip(before, opt.param_groups)])
    return used


@pytest.mark.parametrize("name", list(PARITY_CONFIGS))
def test_parity_with_the_core_exactly(name: str) -> None:
    cfg = PARITY_CONFIGS[name]
    steps = check_steps(cfg)
    np.testing.assert_array_equal(torch_rates(cfg, steps), cfg(steps))


def test_real_loop_uses_lr_k_at_update_k_per_group() -> None:
    opt = make_optimizer(lrs=(0.1, 0.02))
    sched = UBALR(opt, T_max=30, phi=5.0, eta_min=[0.001, 0.0], warmup_steps=4, warmup_start_lr=[0.01, 0.0])
    used = np.array(run(opt, sched, 40))
    cfgs = [UBAConfig(total_steps=30, peak_lr=0.1, phi=5.0, min_lr=0.001, warmup_steps=4, warmup_start_lr=0.01),
            UBAConfig(total_steps=30, peak_lr=0.02, phi=5.0, warmup_steps=4)]
    for i, cfg in enumerate(cfgs):
        np.testing.assert_allclose(used[:, i], cfg(np.arange(40)), rtol=1e-12, atol=1e-15)
    assert sched.get_last_lr() == [float(c(40)) for c in cfgs]


@pytest.mark.parametrize("shape", [{"phi": 2.0}, {}], ids=["phi=2", "default-phi"])
@pytest.mark.parametrize("T,eta_min", [(10, 0.0), (100, 0.001), (1000, 0.05)])
def test_phi_two_is_torch_cosine_annealing(T: int, eta_min: float, shape: dict) -> None:
    ours_opt, theirs_opt = make_optimizer(), make_optimizer()
    ours = UBALR(ours_opt, T_max=T, eta_min=eta_min, **shape)
    theirs = CosineAnnealingLR(theirs_opt, T_max=T, eta_min=eta_min)
    a, b = [], []
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
    sched = UBALR.from_config(make_optimizer(), cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the deprecated epoch argument warns
        for step in (0, 99, 100, 500, 1000, 1200):
            sched.step(step)
            assert sched.optimizer.param_groups[0]["lr"] == float(cfg(step))
            assert sched._get_closed_form_lr() == [float(cfg(step))]


def test_inside_sequential_lr_after_a_linear_warmup() -> None:
    opt = make_optimizer()
    warm = LinearLR(opt, start_factor=0.1, total_iters=5)
    uba = UBALR(opt, T_max=20, phi=3.0, eta_min=0.001)
    sched = SequentialLR(opt, [warm, uba], milestones=[5])
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
    for k in range(15):
        assert opt.param_groups[0]["lr"] is tensor
        assert float(tensor) == pytest.approx(float(cfg(k)), rel=1e-6, abs=1e-9)  # float32 tensor
        opt.step()
        sched.step()


def test_resume_from_a_weights_only_checkpoint_matches_an_uninterrupted_run(tmp_path) -> None:
    kwargs = dict(T_max=40, phi=0.7, eta_min=0.002, warmup_steps=5, warmup_start_lr=0.01)
    torch.manual_seed(0)
    opt = make_optimizer(lrs=(0.1, 0.03), momentum=0.9)
    sched = UBALR(opt, **kwargs)
    reference = run(opt, sched, 50)

    opt = make_optimizer(lrs=(0.1, 0.03), momentum=0.9)
    sched = UBALR(opt, **kwargs)
    first = run(opt, sched, 17)
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict(),
                "params": [g["params"][0].detach() for g in opt.param_groups]}, tmp_path / "ckpt.pt")

    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    opt2 = make_optimizer(lrs=(0.1, 0.03), momentum=0.9)
    with torch.no_grad():
        for g, p in zip(opt2.param_groups, ckpt["params"]):
            g["params"][0].copy_(p)
    sched2 = UBALR(opt2, **kwargs)
    opt2.load_state_dict(ckpt["opt"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same config: no warning
        sched2.load_state_dict(ckpt["sched"])
    second = run(opt2, sched2, 33)
    np.testing.assert_array_equal(np.array(first + second), np.array(reference))


def test_state_dict_holds_plain_types_only() -> None:
    sched = UBALR(make_optimizer(lrs=(0.1, 0.2)), T_max=10, phi=2.0, eta_min=[0.0, 0.01])

    def walk(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and walk(v) for k, v in x.items())
        if isinstance(x, list):
            return all(walk(v) for v in x)
        return type(x) in (int, float, bool, str, type(None))

    assert walk(sched.state_dict())


def test_loading_a_different_config_warns_with_both() -> None:
    old = UBALR(make_optimizer(), T_max=100, phi=4.0)
    new = UBALR(make_optimizer(), T_max=200, phi=4.0)
    with pytest.warns(UserWarning, match=r"(?s)checkpoint.*'total_steps': 100.*'total_steps': 200"):
        new.load_state_dict(old.state_dict())
    assert new.configs == old.configs  # torch's rule: the loaded state wins


def test_constructor_resume_applies_lr_of_n_plus_one() -> None:
    opt = make_optimizer()
    UBALR(opt, T_max=50, phi=2.0)  # sets initial_lr, as a first run would
    opt.param_groups[0]["lr"] = 123.0
    UBALR(opt, T_max=50, phi=2.0, last_epoch=9)
    assert opt.param_groups[0]["lr"] == float(UBAConfig(total_steps=50, peak_lr=0.1, phi=2.0)(10))


def test_stale_initial_lr_wins_unless_peak_lr_is_given() -> None:
    opt = make_optimizer(lrs=(0.1,))
    opt.param_groups[0]["initial_lr"] = 0.5  # e.g. from a loaded optimizer state
    assert UBALR(opt, T_max=10, phi=2.0).configs[0].peak_lr == 0.5
    opt.param_groups[0]["initial_lr"] = 0.5
    sched = UBALR(opt, T_max=10, phi=2.0, peak_lr=0.1)
    assert sched.configs[0].peak_lr == 0.1 and opt.param_groups[0]["lr"] == 0.1


def test_from_config_matches_keyword_construction() -> None:
    cfg = UBAConfig(total_steps=30, peak_lr=0.2, phi=6.0, min_lr=0.01, warmup_steps=3, warmup_start_lr=0.05)
    a = UBALR.from_config(make_optimizer(lrs=(0.7,)), cfg)
    b = UBALR(make_optimizer(lrs=(0.2,)), T_max=30, phi=6.0, eta_min=0.01, warmup_steps=3,
              warmup_start_lr=0.05)
    assert a.configs == b.configs == [cfg]
    with pytest.raises(TypeError, match="config"):
        UBALR.from_config(make_optimizer(), {"total_steps": 3})


BAD = [
    ("T_max", 0, ValueError), ("T_max", -1, ValueError), ("T_max", 10.0, TypeError), ("T_max", True, TypeError),
    ("T_max", "10", TypeError),
    ("phi", 0.0, ValueError), ("phi", -1.0, ValueError), ("phi", math.nan, ValueError),
    ("phi", math.inf, ValueError), ("phi", "2", TypeError), ("phi", None, TypeError), ("phi", True, TypeError),
    ("eta_min", 0.5, ValueError), ("eta_min", -0.01, ValueError), ("eta_min", [0.0, 0.0], ValueError),
    ("eta_min", "0", TypeError),
    ("warmup_steps", 10, ValueError), ("warmup_steps", -1, ValueError), ("warmup_steps", 2.0, TypeError),
    ("warmup_start_lr", -1.0, ValueError), ("warmup_start_lr", math.nan, ValueError),
    ("peak_lr", -0.1, ValueError), ("peak_lr", [0.1, 0.1], ValueError), ("peak_lr", "0.1", TypeError),
    ("last_epoch", -2, ValueError), ("last_epoch", 1.5, TypeError),
]


@pytest.mark.parametrize("arg,value,error", BAD, ids=[f"{a}={v!r}" for a, v, _ in BAD])
def test_bad_arguments_name_the_argument_and_value(arg: str, value, error) -> None:
    kwargs = {"T_max": 10, "phi": 2.0, arg: value}
    with pytest.raises(error, match=f"`{arg}`") as info:
        UBALR(make_optimizer(), **kwargs)
    assert repr(value) in str(info.value) or str(len(value)) in str(info.value)


def test_a_negative_group_lr_is_named() -> None:
    opt = make_optimizer()
    opt.param_groups[0]["lr"] = -0.1
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\].*-0.1"):
        UBALR(opt, T_max=10, phi=2.0)


def test_not_an_optimizer() -> None:
    with pytest.raises(TypeError, match="optimizer"):
        UBALR([torch.zeros(1)], T_max=10, phi=2.0)
