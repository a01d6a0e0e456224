"""The adapters under real multi-process and multi-device training, compared with the core.

Each scenario runs in fresh interpreters (tests/_dist_workers.py), so that the
process group, ``XLA_FLAGS``, TensorFlow's logical devices and ``KERAS_BACKEND``
are set before the framework initialises:

1. PyTorch ``DistributedDataParallel`` over gloo, 2 ranks on 127.0.0.1, with a
   checkpoint written by rank 0 and loaded by both (``weights_only=True``).
2. JAX data parallelism over 2 host devices (``Mesh`` + ``NamedSharding``) with
   ``optax.inject_hyperparams(optax.adamw)``, and a plain-pytree checkpoint.
3. ``tf.distribute.MirroredStrategy`` over 2 logical CPUs with ``model.fit``.
4. Keras 3 ``model.fit`` on the JAX and torch backends.
5. PyTorch Lightning stepping ``UBALR`` per batch, resumed from a checkpoint.

A worker records what the framework did (the lr of every update, parameters,
device counts) as JSON; the tests here compare it with the float64 core: torch
exactly, float32 frameworks to rtol 1e-6 and atol 1e-6 * peak.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _processes import require_gloo, run_ranks, run_worker, worker_command, worker_env
from conftest import assert_float32_close, assert_weights_fall_by_lrs, framework

from uba_core import UBAConfig

WORKERS = Path(__file__).with_name("_dist_workers.py")

# Warmup hand-off at 4, budget 20; 24 updates run 4 past it, where the floor must hold.
CFG = UBAConfig(total_steps=20, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=4, warmup_start_lr=0.01)
STEPS = 24
RESUME_AT = 10  # mid-decay; mid-epoch for Lightning


def core(first: int = 0, stop: int = STEPS) -> np.ndarray:
    """The float64 core's lr for updates ``first`` .. ``stop - 1``."""
    return CFG(np.arange(first, stop))


def command(scenario: str, out: Path, **kwargs: Any) -> list[str]:
    """The command line that runs ``scenario`` of tests/_dist_workers.py with ``kwargs`` and CFG."""
    return worker_command(WORKERS, scenario, out, cfg=CFG.to_dict(), **kwargs)


def run_scenario(scenario: str, out: Path, env: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """Run one worker process to completion and return the JSON it wrote to ``out``."""
    run_worker(command(scenario, out, **kwargs), out.parent, env)
    return json.loads(out.read_text())


# --- 1. PyTorch DistributedDataParallel, gloo, 2 ranks ---------------------------------------


@pytest.fixture(scope="module")
def ddp_ranks(tmp_path_factory) -> list[dict[str, Any]]:
    """Both ranks' results of tests/_dist_workers.py:torch_ddp, in rank order."""
    torch = framework("torch", "torch")
    require_gloo(torch)
    tmp = tmp_path_factory.mktemp("ddp")
    out = tmp / "rank{rank}.json"
    cmd = command("torch_ddp", out, steps=STEPS, resume_at=RESUME_AT, ckpt=str(tmp / "ckpt.pt"))
    run_ranks(cmd, tmp, world_size=2)
    return [json.loads((tmp / f"rank{rank}.json").read_text()) for rank in range(2)]


def test_ddp_every_rank_uses_the_core_lr_exactly(ddp_ranks) -> None:
    assert [r["rank"] for r in ddp_ranks] == [0, 1]
    assert {r["world_size"] for r in ddp_ranks} == {2}
    for result in ddp_ranks:
        assert result["lr_types"] == ["float"]
        np.testing.assert_array_equal(result["lrs"], core())
    # DDP kept the replicas identical: the all-reduced gradients were applied with the same lr.
    np.testing.assert_array_equal(ddp_ranks[0]["params"], ddp_ranks[1]["params"])


def test_ddp_resume_from_a_rank0_checkpoint_matches_the_uninterrupted_run(ddp_ranks) -> None:
    for result in ddp_ranks:
        assert result["load_warnings"] == []  # same config in the checkpoint: no warning
        np.testing.assert_array_equal(result["resumed_lrs"], core())
        np.testing.assert_allclose(result["resumed_params"], result["params"], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ddp_ranks[0]["resumed_params"], ddp_ranks[1]["resumed_params"])


# --- 2. JAX: batch sharded over 2 host devices --------------------------------------------------


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory) -> dict[str, Any]:
    """The result of tests/_dist_workers.py:jax_data_parallel on 2 forced host devices."""
    framework("jax", "jax")
    framework("jax", "optax")
    tmp = tmp_path_factory.mktemp("jax")
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()
    env = worker_env(XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    return run_scenario(
        "jax_data_parallel", tmp / "jax.json", env, steps=STEPS, resume_at=RESUME_AT, ckpt=str(tmp / "state.npz")
    )


def test_jax_the_batch_is_really_split_over_two_devices(jax_run) -> None:
    assert jax_run["device_count"] == 2
    assert jax_run["batch_shards"] == [[4, 4], [4, 4]]  # 8 rows, 4 on each device
    assert jax_run["all_reduce"], "the compiled sharded step has no all-reduce"


@pytest.mark.parametrize("run", ["single_lrs", "sharded_lrs"], ids=["one-device", "two-devices"])
def test_jax_injected_lr_of_each_update_matches_the_core(jax_run, run: str) -> None:
    assert_float32_close(jax_run[run], CFG, np.arange(STEPS))
    assert (jax_run["final_count"], jax_run["final_count_dtype"]) == (STEPS, "int32")


def test_jax_sharded_adamw_gives_the_single_device_parameters(jax_run) -> None:
    single = np.asarray(jax_run["single_params"])
    # 24 float32 adamw updates, the sharded gradient summed in another order: a few ulps each.
    np.testing.assert_allclose(jax_run["sharded_params"], single, rtol=1e-5, atol=1e-6 * np.max(np.abs(single)))
    assert np.max(np.abs(single)) > 0.1  # the parameters did move


def test_jax_plain_pytree_checkpoint_resumes_identically(jax_run) -> None:
    assert (jax_run["restored_count"], jax_run["restored_count_dtype"]) == (RESUME_AT, "int32")
    assert_float32_close(jax_run["resumed_lrs"], CFG, np.arange(STEPS))
    np.testing.assert_array_equal(jax_run["resumed_lrs"], jax_run["sharded_lrs"])
    np.testing.assert_array_equal(jax_run["resumed_params"], jax_run["sharded_params"])
    assert jax_run["exact_resume"]  # every leaf of (params, optimizer state), count included


# --- 3 and 4. Keras: MirroredStrategy on TF, then the JAX and torch backends ---------------------

# Warmup hand-off, the end of the budget and far past it, up to the int32 limit.
PROBE = np.unique(np.concatenate([np.arange(CFG.total_steps + 11), [10**3, 10**6, 2**24 + 1, 2**31 - 1]]))


@pytest.fixture(scope="module")
def mirrored_run(tmp_path_factory) -> dict[str, Any]:
    """tests/_dist_workers.py:keras_fit under MirroredStrategy over 2 logical CPUs."""
    framework("tf", "tensorflow")
    framework("tf", "keras")
    tmp = tmp_path_factory.mktemp("mirrored")
    return run_scenario(
        "keras_fit",
        tmp / "fit.json",
        worker_env(KERAS_BACKEND="tensorflow"),
        steps=STEPS,
        batch=4,
        mirrored=True,
        probe=[],
    )


def test_mirrored_strategy_runs_two_replicas(mirrored_run) -> None:
    assert mirrored_run["backend"] == "tensorflow"
    assert mirrored_run["replicas"] == 2


def test_mirrored_fit_step_k_uses_lr_k_of_the_core(mirrored_run) -> None:
    # One increment per global step, not one per replica.
    assert mirrored_run["iterations"] == list(range(STEPS))
    assert mirrored_run["final_iterations"] == STEPS
    assert_float32_close(mirrored_run["lrs"], CFG, np.arange(STEPS))
    assert_weights_fall_by_lrs(mirrored_run["weights"], CFG)


@pytest.fixture(scope="module", params=["jax", "torch"], ids=["keras-jax", "keras-torch"])
def backend_run(request, tmp_path_factory) -> dict[str, Any]:
    """tests/_dist_workers.py:keras_fit with KERAS_BACKEND set to the parameter."""
    backend = request.param
    framework("tf", "keras")
    framework(backend, backend)
    tmp = tmp_path_factory.mktemp(f"keras-{backend}")
    env = worker_env(KERAS_BACKEND=backend, JAX_PLATFORMS="cpu")
    result = run_scenario(
        "keras_fit", tmp / "fit.json", env, steps=STEPS, batch=4, mirrored=False, probe=PROBE.tolist()
    )
    assert result["backend"] == backend
    return result


def test_keras_backend_fit_step_k_uses_lr_k_of_the_core(backend_run) -> None:
    assert backend_run["iterations"] == list(range(STEPS))
    assert backend_run["final_iterations"] == STEPS
    assert_float32_close(backend_run["lrs"], CFG, np.arange(STEPS))
    assert_weights_fall_by_lrs(backend_run["weights"], CFG)


def test_keras_backend_schedule_on_int32_steps_matches_the_core(backend_run) -> None:
    assert (backend_run["probe_dtype"], backend_run["probe_rates_dtype"]) == ("int32", "float32")
    assert_float32_close(backend_run["probe_rates"], CFG, PROBE)


# --- 5. PyTorch Lightning ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lightning_run(tmp_path_factory) -> dict[str, Any]:
    """tests/_dist_workers.py:lightning: a full run, a run to RESUME_AT and its resumption."""
    framework("torch", "pytorch_lightning")
    tmp = tmp_path_factory.mktemp("lightning")
    return run_scenario(
        "lightning", tmp / "lightning.json", worker_env(), steps=STEPS, resume_at=RESUME_AT, ckpt=str(tmp / "half.ckpt")
    )


def test_lightning_training_step_sees_the_core_lr_exactly(lightning_run) -> None:
    assert lightning_run["lr_types"] == ["float"]
    assert lightning_run["global_steps"] == list(range(STEPS))
    np.testing.assert_array_equal(lightning_run["lrs"], core())


def test_lightning_resume_from_checkpoint_continues_the_curve(lightning_run) -> None:
    assert lightning_run["first_global_steps"] == list(range(RESUME_AT))
    assert lightning_run["second_global_steps"] == list(range(RESUME_AT, STEPS))
    np.testing.assert_array_equal(lightning_run["first_lrs"], core(0, RESUME_AT))
    np.testing.assert_array_equal(lightning_run["second_lrs"], core(RESUME_AT, STEPS))
    np.testing.assert_array_equal(lightning_run["first_lrs"] + lightning_run["second_lrs"], lightning_run["lrs"])
    np.testing.assert_allclose(lightning_run["resumed_params"], lightning_run["params"], rtol=1e-6, atol=1e-7)
