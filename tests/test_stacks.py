"""The training stacks users run every day, with the real libraries, compared with the core.

1. The HF ``Trainer`` (tests/_stack_workers.py:trainer, a fresh interpreter):
   ``get_uba_schedule_with_warmup`` passed as ``optimizers=(opt, sched)`` and built
   by a ``create_scheduler`` override, with gradient accumulation, resumed from a
   checkpoint; and transformers' own cosine schedules at phi = 2.
2. accelerate on 2 gloo CPU processes (tests/_stack_workers.py:accelerate): a
   prepared scheduler is stepped once per process per update; the recipes of
   docs/stacks/accelerate.md reproduce the curve.
3. ``torch.amp.GradScaler``: a skipped ``optimizer.step()`` and the guard of
   docs/stacks/torch-amp.md.
4. Keras 3 (TensorFlow backend): ``gradient_accumulation_steps`` and the lr
   callbacks, as docs/stacks/keras.md describes them.

The lr an update used is read where the update happens (a torch optimizer step
pre-hook; a Keras weight that drops by exactly the lr), never from the scheduler.
torch is compared exactly (rtol 1e-12 where the same curve is reached by another
float expression), Keras within rtol 1e-6 and atol 1e-6 * peak plus the float32
rounding of the weight.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _processes import require_gloo, run_ranks, run_worker, worker_command, worker_env
from conftest import (
    assert_weight_drops_use_lrs,
    framework,
    keras_fit_weights,
    keras_named,
    keras_one_weight_model,
    sgd,
    step_lrs,
)

from uba_core import UBAConfig

WORKERS = Path(__file__).with_name("_stack_workers.py")


def user_visible(result: dict[str, Any], category: str = "UBABudgetWarning") -> list[str]:
    """The messages of ``category`` that reached the user (the stack's filters in place)."""
    return [w["message"] for w in result["warnings"] if w["category"] == category]


# --- 1. The HF Trainer --------------------------------------------------------------------------

# Warmup from 0 (as transformers' factories), budget 16 updates, checkpoint after 6.
HF_CFG = UBAConfig(total_steps=16, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=3)
HF_RESUME_AT = 6
HF_ACCUM = 2


@pytest.fixture(scope="module")
def trainer_runs(tmp_path_factory) -> dict[str, Any]:
    """tests/_stack_workers.py:trainer: every Trainer run of section 1."""
    framework("torch", "transformers")
    framework("torch", "accelerate")
    tmp = tmp_path_factory.mktemp("trainer")
    out = tmp / "trainer.json"
    cmd = worker_command(
        WORKERS,
        "trainer",
        out,
        cfg=HF_CFG.to_dict(),
        steps=HF_CFG.total_steps,
        resume_at=HF_RESUME_AT,
        accum=HF_ACCUM,
        out_dir=str(tmp),
    )
    run_worker(cmd, tmp, worker_env())
    return json.loads(out.read_text())


@pytest.mark.parametrize("kind", ["tuple", "subclass"], ids=["optimizers-tuple", "create_scheduler"])
def test_trainer_update_k_uses_lr_k_with_gradient_accumulation(trainer_runs, kind: str) -> None:
    run = trainer_runs[kind]
    steps = HF_CFG.total_steps
    assert run["scheduler"] == "UBALR"
    assert run["global_steps"] == list(range(steps))  # one update per 2 micro-batches
    for group in np.asarray(run["lrs"]).T:  # the create_scheduler run has 2 groups (decay / no decay)
        np.testing.assert_array_equal(group, HF_CFG(np.arange(steps)))
    np.testing.assert_array_equal(run["logged"], HF_CFG(np.arange(steps)))  # what the Trainer logs
    assert run["last_epoch"] == steps  # stepped once per update: never past the budget
    assert user_visible(run) == []


@pytest.mark.parametrize("kind", ["tuple", "subclass"], ids=["optimizers-tuple", "create_scheduler"])
def test_trainer_resume_from_checkpoint_matches_the_uninterrupted_run(trainer_runs, kind: str) -> None:
    full, resumed = trainer_runs[kind], trainer_runs[f"{kind}_resumed"]
    assert resumed["global_steps"] == list(range(HF_RESUME_AT, HF_CFG.total_steps))
    np.testing.assert_array_equal(resumed["lrs"], full["lrs"][HF_RESUME_AT:])
    np.testing.assert_allclose(resumed["params"], full["params"], rtol=1e-6, atol=1e-7)
    assert resumed["last_epoch"] == HF_CFG.total_steps


@pytest.mark.parametrize("kind", ["tuple", "subclass"], ids=["optimizers-tuple", "create_scheduler"])
def test_trainer_scheduler_pt_loads_with_weights_only(trainer_runs, kind: str) -> None:
    torch = framework("torch", "torch")
    state = torch.load(Path(trainer_runs[f"{kind}_checkpoint"]) / "scheduler.pt", weights_only=True)
    assert state["last_epoch"] == HF_RESUME_AT
    assert {UBAConfig.from_dict(c) for c in state["configs"]} == {HF_CFG}


def test_trainer_wrong_budget_holds_the_floor(trainer_runs) -> None:
    run = trainer_runs["short"]  # num_training_steps = max_steps // 2
    half = HF_CFG.total_steps // 2
    short = UBAConfig(
        total_steps=half, peak_lr=HF_CFG.peak_lr, phi=HF_CFG.phi, min_lr=HF_CFG.min_lr, warmup_steps=HF_CFG.warmup_steps
    )
    np.testing.assert_array_equal(np.asarray(run["lrs"])[:, 0], short(np.arange(HF_CFG.total_steps)))
    assert run["last_epoch"] == HF_CFG.total_steps > half


def test_trainer_wrong_budget_warning_reaches_the_user(trainer_runs) -> None:
    # transformers imports accelerate, which ignores every UserWarning attributed to
    # torch.optim.lr_scheduler: the budget warning must be attributed to the caller of step().
    messages = user_visible(trainer_runs["short"])
    assert len(messages) == 1 and "T_max=8" in messages[0], trainer_runs["short"]["warnings"]


@pytest.mark.parametrize("min_lr", [0.0, 0.002], ids=["cosine", "cosine-with-min-lr"])
def test_phi_two_is_transformers_cosine_with_warmup(min_lr: float) -> None:
    framework("torch", "torch")
    optimization = framework("torch", "transformers.optimization")
    from uba_torch import get_uba_schedule_with_warmup

    warmup, total, peak = 5, 40, 0.3

    def lrs(factory) -> np.ndarray:
        """The lr of steps 0 .. num_training_steps, included."""
        opt = sgd((peak,))
        return np.append(step_lrs(opt, [factory(opt)], total)[:, 0], opt.param_groups[0]["lr"])

    if min_lr == 0.0:
        theirs = lrs(lambda o: optimization.get_cosine_schedule_with_warmup(o, warmup, total))
    else:
        theirs = lrs(
            lambda o: optimization.get_cosine_with_min_lr_schedule_with_warmup(o, warmup, total, min_lr=min_lr)
        )
    ours = lrs(lambda o: get_uba_schedule_with_warmup(o, warmup, total, phi=2.0, min_lr=min_lr))
    # transformers forms 0.5 * (1 + cos(pi p)), which loses the last digits of tiny rates.
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15 * peak)
    core = UBAConfig(total_steps=total, peak_lr=peak, min_lr=min_lr, warmup_steps=warmup)
    np.testing.assert_allclose(ours, core(np.arange(total + 1)), rtol=1e-12, atol=0)


# --- 2. accelerate, 2 CPU processes -------------------------------------------------------------

ACC_CFG = UBAConfig(total_steps=12, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=2, warmup_start_lr=0.01)
ACC_PROCESSES = 2
ACC_BATCH = 2  # per process and micro-step
# recipe -> gradient_accumulation_steps
ACC_RECIPES = {"default": 1, "scaled": 2, "split": 1, "split_kwarg": 1, "manual": 2}


@pytest.fixture(scope="module")
def accelerate_ranks(tmp_path_factory):
    """``get(recipe)``: both ranks' results of tests/_stack_workers.py:accelerate, run once per recipe."""
    torch = framework("torch", "torch")
    framework("torch", "accelerate")
    require_gloo(torch)
    results: dict[str, list[dict[str, Any]]] = {}

    def get(recipe: str) -> list[dict[str, Any]]:
        if recipe not in results:
            tmp = tmp_path_factory.mktemp(f"accelerate-{recipe}")
            cmd = worker_command(
                WORKERS,
                "accelerate",
                tmp / "rank{rank}.json",
                cfg=ACC_CFG.to_dict(),
                recipe=recipe,
                updates=ACC_CFG.total_steps,
                accum=ACC_RECIPES[recipe],
                batch=ACC_BATCH,
            )
            run_ranks(cmd, tmp, world_size=ACC_PROCESSES)
            ranks = [json.loads((tmp / f"rank{rank}.json").read_text()) for rank in range(ACC_PROCESSES)]
            assert [r["rank"] for r in ranks] == list(range(ACC_PROCESSES))
            assert {r["num_processes"] for r in ranks} == {ACC_PROCESSES}
            # DDP kept the replicas identical: both applied the same lr to the same averaged gradient.
            assert ranks[0]["params"] == ranks[1]["params"]
            results[recipe] = ranks
        return results[recipe]

    return get


def test_accelerate_prepared_scheduler_steps_once_per_process(accelerate_ranks) -> None:
    updates = ACC_CFG.total_steps
    for r in accelerate_ranks("default"):
        assert len(r["lrs"]) == updates  # the optimizer stepped once per update
        # Update k uses lr(2k): the floor from update T / 2 on; the scheduler ends at 2T.
        np.testing.assert_array_equal(r["lrs"], ACC_CFG(ACC_PROCESSES * np.arange(updates)))
        assert r["last_epoch"] == ACC_PROCESSES * updates > r["T_max"] == updates


def test_accelerate_wrong_budget_warning_reaches_the_user(accelerate_ranks) -> None:
    for r in accelerate_ranks("default"):
        # accelerate ignores every UserWarning attributed to torch.optim.lr_scheduler: the
        # budget warning must be attributed to the caller of step() to be seen.
        messages = user_visible(r)
        assert len(messages) == 1 and f"T_max={ACC_CFG.total_steps}" in messages[0], r["warnings"]


def test_accelerate_split_batches_keyword_is_ignored(accelerate_ranks) -> None:
    # accelerate 1.x accepts Accelerator(split_batches=True) and ignores it (the option moved to
    # DataLoaderConfiguration): each process gets whole batches of the loader, so half as many
    # updates, and the scheduler still steps once per process per update.
    updates = ACC_CFG.total_steps // ACC_PROCESSES
    for r in accelerate_ranks("split_kwarg"):
        assert r["process_batches"] == [ACC_PROCESSES * ACC_BATCH]
        np.testing.assert_array_equal(r["lrs"], ACC_CFG(ACC_PROCESSES * np.arange(updates)))
        assert r["last_epoch"] == ACC_PROCESSES * updates


@pytest.mark.parametrize("recipe", ["scaled", "split", "manual"])
def test_accelerate_recipe_gives_update_k_lr_k(accelerate_ranks, recipe: str) -> None:
    updates = ACC_CFG.total_steps
    for r in accelerate_ranks(recipe):
        assert len(r["lrs"]) == updates  # the optimizer stepped once per update
        if recipe == "scaled":
            # T_max and warmup_steps times the process count: the same curve in process-steps.
            np.testing.assert_allclose(r["lrs"], ACC_CFG(np.arange(updates)), rtol=1e-12, atol=0)
            assert r["last_epoch"] == r["T_max"] == ACC_PROCESSES * updates
        else:  # one scheduler step per update
            np.testing.assert_array_equal(r["lrs"], ACC_CFG(np.arange(updates)))
            assert r["last_epoch"] == r["T_max"] == updates
        if recipe == "split":
            assert r["process_batches"] == [ACC_BATCH]  # the loader's batch of 2 * ACC_BATCH was split
        assert user_visible(r) == []


# --- 3. torch.amp.GradScaler --------------------------------------------------------------------

AMP_CFG = UBAConfig(total_steps=10, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=2, warmup_start_lr=0.01)
AMP_SKIPPED = {0, 5}  # iterations whose gradients get an inf: GradScaler skips optimizer.step()


def amp_run(guard: bool, iterations: int) -> dict[str, Any]:
    """Train with a real ``torch.amp.GradScaler`` on CPU, an inf injected at AMP_SKIPPED.

    Args:
        guard: Step the scheduler only when the scale did not drop (docs/stacks/torch-amp.md).
        iterations: Loop iterations (each one a backward pass and a ``scaler.step``).

    Returns:
        The lrs the real updates used, the scheduler's ``last_epoch``, the final scale
        and the messages of the warnings raised.
    """
    import warnings

    torch = framework("torch", "torch")
    from uba_torch import UBALR

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=AMP_CFG.peak_lr)
    used: list[float] = []
    opt.register_step_pre_hook(lambda o, args, kwargs: used.append(o.param_groups[0]["lr"]))
    sched = UBALR.from_uba_config(opt, AMP_CFG)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    x = torch.randn(8, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(iterations):
            opt.zero_grad()
            scaler.scale(model(x).pow(2).mean()).backward()
            if i in AMP_SKIPPED:
                model.weight.grad[0, 0] = float("inf")
            scale = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if not guard or scaler.get_scale() >= scale:
                sched.step()
    return {
        "lrs": used,
        "last_epoch": sched.last_epoch,
        "scale": scaler.get_scale(),
        "warnings": [str(w.message) for w in caught],
    }


def test_gradscaler_skips_shift_an_unguarded_schedule() -> None:
    iterations = AMP_CFG.total_steps
    run = amp_run(guard=False, iterations=iterations)
    assert run["scale"] == 2.0**8 * 0.5 ** len(AMP_SKIPPED)  # each inf halved the scale
    kept = [i for i in range(iterations) if i not in AMP_SKIPPED]
    assert len(run["lrs"]) == len(kept)  # two optimizer steps were skipped...
    np.testing.assert_array_equal(run["lrs"], AMP_CFG(np.array(kept)))  # ...and their lrs lost
    assert run["last_epoch"] == iterations
    assert any("lr_scheduler.step()` before `optimizer.step()" in m for m in run["warnings"])


def test_gradscaler_guard_keeps_update_k_at_lr_k() -> None:
    iterations = AMP_CFG.total_steps + len(AMP_SKIPPED)  # as many updates as the budget
    run = amp_run(guard=True, iterations=iterations)
    assert run["scale"] == 2.0**8 * 0.5 ** len(AMP_SKIPPED)
    np.testing.assert_array_equal(run["lrs"], AMP_CFG(np.arange(AMP_CFG.total_steps)))
    assert run["last_epoch"] == AMP_CFG.total_steps
    assert not any("lr_scheduler.step()` before" in m or "past its budget" in m for m in run["warnings"])


# --- 4. Keras 3 ---------------------------------------------------------------------------------

KERAS_CFG = UBAConfig(total_steps=8, peak_lr=0.1, phi=3.0, min_lr=0.002, warmup_steps=2, warmup_start_lr=0.01)
ACCUM = 2


def keras_fit(model, batches: int, epochs: int = 1, callbacks=()) -> np.ndarray:
    """Fit ``epochs`` epochs of ``batches`` batches; the weight's drop at every batch."""
    return -np.diff(keras_fit_weights(model, batches, epochs, callbacks))


def test_keras_gradient_accumulation_evaluates_the_schedule_at_micro_steps() -> None:
    updates = KERAS_CFG.total_steps
    model = keras_one_weight_model(keras_named(KERAS_CFG), accumulation=ACCUM)
    drops = keras_fit(model, batches=ACCUM * updates)
    # Only every ACCUM-th micro-batch applies an update: update j at micro-step (j + 1) * ACCUM - 1.
    applied = (np.arange(updates) + 1) * ACCUM - 1
    assert np.all(np.delete(drops, applied) == 0.0)
    # ...and it uses lr(micro-step): a budget given in updates is spent by update T / ACCUM.
    assert_weight_drops_use_lrs(drops[applied], KERAS_CFG, applied)
    assert applied[updates // ACCUM] >= KERAS_CFG.total_steps  # the second half runs at the floor
    assert int(model.optimizer.iterations) == updates  # the public count is in updates


def test_keras_gradient_accumulation_budget_in_micro_steps() -> None:
    updates = KERAS_CFG.total_steps
    micro = UBAConfig(
        **{
            **KERAS_CFG.to_dict(),
            "total_steps": ACCUM * KERAS_CFG.total_steps,
            "warmup_steps": ACCUM * KERAS_CFG.warmup_steps,
        }
    )
    drops = keras_fit(
        keras_one_weight_model(keras_named(KERAS_CFG, scale=ACCUM), accumulation=ACCUM), batches=ACCUM * updates
    )
    applied = (np.arange(updates) + 1) * ACCUM - 1
    assert_weight_drops_use_lrs(drops[applied], micro, applied)


def test_keras_gradient_accumulation_per_update_wrapper_gives_lr_k() -> None:
    keras = framework("tf", "keras")

    class PerUpdate(keras.optimizers.schedules.LearningRateSchedule):  # as in docs/stacks/keras.md
        def __init__(self, schedule, accumulation_steps):
            self.schedule, self.accumulation_steps = schedule, accumulation_steps

        def __call__(self, step):
            return self.schedule(keras.ops.floor_divide(step, self.accumulation_steps))

    updates = KERAS_CFG.total_steps
    model = keras_one_weight_model(PerUpdate(keras_named(KERAS_CFG), ACCUM), accumulation=ACCUM)
    drops = keras_fit(model, batches=ACCUM * updates)
    assert_weight_drops_use_lrs(drops[ACCUM - 1 :: ACCUM], KERAS_CFG, np.arange(updates))


@pytest.mark.parametrize("callback", ["LearningRateScheduler", "ReduceLROnPlateau"])
def test_keras_lr_callbacks_raise_on_a_schedule(callback: str) -> None:
    keras = framework("tf", "keras")
    epochs_done: list[int] = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None) -> None:
            epochs_done.append(epoch)

    if callback == "LearningRateScheduler":
        cb = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01)
    else:  # min_delta so large that the second epoch is a plateau
        cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=1e9)
    with pytest.raises(TypeError, match="learning rate is not settable"):
        keras_fit(keras_one_weight_model(keras_named(KERAS_CFG)), batches=2, epochs=4, callbacks=[Epochs(), cb])
    # LearningRateScheduler fails before the first batch; ReduceLROnPlateau only at the first
    # plateau, after epochs of training (the Epochs callback runs first).
    assert epochs_done == ([] if callback == "LearningRateScheduler" else [0, 1])


def test_keras_learning_rate_scheduler_with_the_core_per_epoch() -> None:
    keras = framework("tf", "keras")
    epochs, batches = KERAS_CFG.total_steps + 2, 3  # 2 epochs past the budget: the floor holds
    per_epoch = keras.callbacks.LearningRateScheduler(lambda epoch: float(KERAS_CFG(epoch)))
    drops = keras_fit(keras_one_weight_model(0.5), batches=batches, epochs=epochs, callbacks=[per_epoch])
    # Every update of epoch e used lr(e).
    assert_weight_drops_use_lrs(drops, KERAS_CFG, np.repeat(np.arange(epochs), batches))
