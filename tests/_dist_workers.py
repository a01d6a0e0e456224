"""Worker processes for tests/test_distributed.py, each run in a fresh interpreter.

Usage::

    python tests/_dist_workers.py SCENARIO OUT_JSON ARGS_JSON

A scenario trains with a real framework under a real device or process setup
(environment variables such as ``XLA_FLAGS`` or ``KERAS_BACKEND`` are set by the
parent before this interpreter starts), then writes what it observed (the lr of
every update, parameters, device and replica counts) to ``OUT_JSON``. Python's
JSON writes floats with ``repr``, so float64 values come back bit for bit.
The schedule is passed in as a ``uba_core.UBAConfig`` dict; each worker builds
the adapter with its framework's own argument names. Workers assert only their
own setup (device counts); the test compares the curve with the float64 core.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
import warnings
from typing import Any

import numpy as np


def _flat(arrays) -> list[float]:
    """Concatenate arrays (or tensors already converted to numpy) into one float list."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]).tolist()


# --- 1. PyTorch DistributedDataParallel over gloo ------------------------------------------


def torch_ddp(cfg: dict[str, Any], steps: int, resume_at: int, ckpt: str) -> dict[str, Any]:
    """One rank of a 2-process DDP run (RANK, WORLD_SIZE, UBA_DDP_INIT come from the env).

    Trains ``steps`` updates uninterrupted, then again with a checkpoint written by
    rank 0 after ``resume_at`` updates and loaded by every rank into a freshly
    built model, optimizer and scheduler.

    Args:
        cfg: The schedule, as ``UBAConfig.to_dict()``.
        steps: Number of updates.
        resume_at: Update count at which the checkpoint is written.
        ckpt: Path of the checkpoint file.

    Returns:
        The lrs each update used (read from the param group just before
        ``optimizer.step()``), their Python types and the final parameters.
    """
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from uba_torch import UBALR

    torch.set_num_threads(1)
    # A file rendezvous: no TCP port to find free and then lose to another process.
    dist.init_process_group(
        "gloo",
        init_method=os.environ["UBA_DDP_INIT"],
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        timeout=datetime.timedelta(seconds=60),
    )
    rank, world = dist.get_rank(), dist.get_world_size()

    def build(seed: int):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 1, dtype=torch.float64)
        opt = torch.optim.SGD(model.parameters(), lr=cfg["peak_lr"], momentum=0.9)
        sched = UBALR(
            opt,
            T_max=cfg["total_steps"],
            phi=cfg["phi"],
            eta_min=cfg["min_lr"],
            warmup_steps=cfg["warmup_steps"],
            warmup_start_lr=cfg["warmup_start_lr"],
        )
        return model, opt, sched

    def batch(step: int):
        """This rank's shard of the step's batch: deterministic, different per rank and step."""
        grid = torch.arange(12, dtype=torch.float64).reshape(4, 3)
        x = torch.sin(grid + 0.37 * step + 5.0 * rank)
        return x, x.sum(dim=1, keepdim=True) * 0.5 + 0.1

    def train(ddp, opt, sched, start: int, stop: int) -> list[float]:
        lrs = []
        for step in range(start, stop):
            x, y = batch(step)
            lrs.append(opt.param_groups[0]["lr"])  # the lr this update uses
            opt.zero_grad()
            ((ddp(x) - y) ** 2).mean().backward()  # DDP all-reduces the gradients
            opt.step()
            sched.step()
        return lrs

    def params(model) -> list[float]:
        return _flat([p.detach().numpy() for p in model.parameters()])

    model, opt, sched = build(seed=0)
    ddp = DistributedDataParallel(model)
    lrs = train(ddp, opt, sched, 0, steps)
    out: dict[str, Any] = {
        "rank": rank,
        "world_size": world,
        "lrs": lrs,
        "lr_types": sorted({type(x).__name__ for x in lrs}),
        "params": params(model),
    }

    model, opt, sched = build(seed=0)
    first = train(DistributedDataParallel(model), opt, sched, 0, resume_at)
    if rank == 0:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, ckpt)
    dist.barrier()
    state = torch.load(ckpt, weights_only=True)
    model, opt, sched = build(seed=1 + rank)  # different weights: only the checkpoint can fix them
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.load_state_dict(state["sched"])
    second = train(DistributedDataParallel(model), opt, sched, resume_at, steps)
    out.update(resumed_lrs=first + second, resumed_params=params(model), load_warnings=[str(w.message) for w in caught])
    dist.barrier()
    dist.destroy_process_group()
    return out


# --- 2. JAX data parallel over 2 host devices --------------------------------------------


def jax_data_parallel(cfg: dict[str, Any], steps: int, resume_at: int, ckpt: str) -> dict[str, Any]:
    """optax.adamw with the UBA schedule, one device versus a batch sharded over two.

    The same jitted step runs on unsharded inputs (one device) and on a batch
    sharded over a ``("data",)`` mesh with replicated parameters. The sharded run
    is also checkpointed after ``resume_at`` updates as a flat list of numpy
    leaves (``numpy.savez``), restored into a pytree built from a fresh
    ``init``, and continued.

    Args:
        cfg: The schedule, as ``UBAConfig.to_dict()``.
        steps: Number of updates.
        resume_at: Update count at which the state is saved.
        ckpt: Path of the ``.npz`` checkpoint.

    Returns:
        Device count, whether the compiled sharded step all-reduces, the lr each
        update used (``state.hyperparams["learning_rate"]`` after the update), the
        parameters of every run and the restored optimizer count and its dtype.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    from uba_jax import warmup_uba_decay_schedule

    devices = jax.devices()
    assert jax.device_count() == 2, f"expected 2 host devices, got {devices}"
    mesh = Mesh(np.array(devices), ("data",))
    replicated, by_batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

    schedule = warmup_uba_decay_schedule(
        init_value=cfg["warmup_start_lr"],
        peak_value=cfg["peak_lr"],
        warmup_steps=cfg["warmup_steps"],
        decay_steps=cfg["total_steps"],
        phi=cfg["phi"],
        end_value=cfg["min_lr"],
    )
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=schedule, weight_decay=1e-2)

    rng = np.random.default_rng(0)
    xs = rng.normal(size=(steps, 8, 4)).astype(np.float32)
    ys = (xs @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.25).astype(np.float32)

    def fresh():
        params = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}
        return params, tx.init(params)

    @jax.jit
    def train_step(params, state, x, y):
        def loss(p):
            return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def train(params, state, start: int, stop: int, put_batch):
        lrs = []
        for k in range(start, stop):
            params, state = train_step(params, state, put_batch(xs[k]), put_batch(ys[k]))
            lrs.append(float(state.hyperparams["learning_rate"]))
        return params, state, lrs

    def on_one(tree):
        return jax.device_put(tree, devices[0])

    def on_mesh(tree):
        return jax.device_put(tree, replicated)

    def shard(batch):
        return jax.device_put(batch, by_batch)

    def leaves(params) -> list[float]:
        return _flat([np.asarray(params["w"]), np.asarray(params["b"])])

    single, _, single_lrs = train(*on_one(fresh()), 0, steps, on_one)

    params, state = on_mesh(fresh())
    x0 = shard(xs[0])
    hlo = train_step.lower(params, state, x0, shard(ys[0])).compile().as_text()
    sharded, sharded_state, sharded_lrs = train(params, state, 0, steps, shard)

    params, state, first = train(*on_mesh(fresh()), 0, resume_at, shard)
    flat, _ = jax.tree_util.tree_flatten((params, state))
    np.savez(ckpt, *[np.asarray(leaf) for leaf in flat])
    del params, state
    loaded = np.load(ckpt)
    template = jax.tree_util.tree_structure(fresh())
    restored = jax.tree_util.tree_unflatten(template, [loaded[f"arr_{i}"] for i in range(len(loaded.files))])
    count = restored[1].count
    params, state, second = train(*on_mesh(restored), resume_at, steps, shard)

    return {
        "device_count": jax.device_count(),
        "batch_shards": [list(s.data.shape) for s in x0.addressable_shards],
        "all_reduce": "all-reduce" in hlo,
        "single_lrs": single_lrs,
        "sharded_lrs": sharded_lrs,
        "resumed_lrs": first + second,
        "single_params": leaves(single),
        "sharded_params": leaves(sharded),
        "resumed_params": leaves(params),
        "restored_count": int(count),
        "restored_count_dtype": str(count.dtype),
        "final_count": int(sharded_state.count),
        "final_count_dtype": str(sharded_state.count.dtype),
        "exact_resume": bool(
            all(
                np.array_equal(a, b)
                for a, b in zip(
                    jax.tree_util.tree_leaves((params, state)),
                    jax.tree_util.tree_leaves((sharded, sharded_state)),
                    strict=True,
                )
            )
        ),
    }


# --- 3 and 4. Keras model.fit (MirroredStrategy on TF, or the JAX / torch backends) -------


def keras_fit(cfg: dict[str, Any], steps: int, batch: int, mirrored: bool, probe: list[int]) -> dict[str, Any]:
    """model.fit with SGD(UBADecay) on the backend named by KERAS_BACKEND.

    The model is ``y = w x`` with x = 1 and the mean absolute error against targets
    far below, so d loss / dw = 1 exactly and each update lowers w by its lr. A
    callback records, before each batch, the optimizer's reported lr (Keras 3:
    ``schedule(iterations)``, the lr of the coming update), the iterations and w.

    Args:
        cfg: The schedule, as ``UBAConfig.to_dict()``.
        steps: Number of updates, all in one epoch.
        batch: Global batch size; the data holds ``steps`` batches, one epoch.
        mirrored: Train under ``tf.distribute.MirroredStrategy`` over 2 logical CPUs
            (configured before TensorFlow initialises).
        probe: Steps at which the schedule is also called on an int32 tensor.

    Returns:
        Backend, replica count, the records, the final weight and the probe rates.
    """
    scope = contextlib.nullcontext()
    replicas = 1
    if mirrored:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        logical = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(logical)
        replicas = strategy.num_replicas_in_sync
        assert replicas == 2, f"expected 2 replicas on {logical}, got {replicas}"
        scope = strategy.scope()

    import keras

    from uba_tf import UBADecay

    class Recorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.lrs: list[float] = []
            self.iterations: list[int] = []
            self.weights: list[float] = []

        def on_train_batch_begin(self, batch, logs=None) -> None:
            self.lrs.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
            self.iterations.append(int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)))
            self.weights.append(float(self.model.get_weights()[0].ravel()[0]))

    def schedule() -> UBADecay:
        # keras' names: decay_steps excludes the warmup; the floor given as an absolute rate.
        return UBADecay(
            initial_learning_rate=cfg["warmup_start_lr"],
            decay_steps=cfg["total_steps"] - cfg["warmup_steps"],
            phi=cfg["phi"],
            warmup_target=cfg["peak_lr"],
            warmup_steps=cfg["warmup_steps"],
            min_learning_rate=cfg["min_lr"],
        )

    with scope:
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule()), loss="mean_absolute_error")
    x = np.ones((steps * batch, 1), np.float32)
    y = np.full((steps * batch, 1), -100.0, np.float32)
    recorder = Recorder()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[recorder])
    recorder.weights.append(float(model.get_weights()[0].ravel()[0]))

    step_tensor = keras.ops.convert_to_tensor(np.asarray(probe, dtype=np.int32), "int32")
    rates = schedule()(step_tensor)
    return {
        "backend": keras.backend.backend(),
        "replicas": replicas,
        "lrs": recorder.lrs,
        "iterations": recorder.iterations,
        "weights": recorder.weights,
        "final_iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "probe_dtype": keras.backend.standardize_dtype(step_tensor.dtype),
        "probe_rates": np.asarray(keras.ops.convert_to_numpy(rates), np.float64).tolist(),
        "probe_rates_dtype": keras.backend.standardize_dtype(rates.dtype),
    }


# --- 5. PyTorch Lightning --------------------------------------------------------------------


def lightning(cfg: dict[str, Any], steps: int, resume_at: int, ckpt: str) -> dict[str, Any]:
    """A LightningModule stepping UBALR per batch, uninterrupted and resumed from a checkpoint.

    Args:
        cfg: The schedule, as ``UBAConfig.to_dict()``.
        steps: ``max_steps`` of the full run.
        resume_at: ``max_steps`` of the first half; its checkpoint resumes the second.
        ckpt: Path of the checkpoint file.

    Returns:
        The lr read in each ``training_step`` with the ``global_step`` it was read
        at, for the full run, the first half and the resumed half, and the final
        parameters of the full and the resumed runs.
    """
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from uba_torch import UBALR

    warnings.filterwarnings("ignore", message=".*(does not have many workers|resuming from a checkpoint).*")
    torch.set_num_threads(1)

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(3, 1)
            self.lrs: list[float] = []
            self.global_steps: list[int] = []

        def training_step(self, batch, batch_idx):
            x, y = batch
            self.lrs.append(self.optimizers().param_groups[0]["lr"])
            self.global_steps.append(int(self.global_step))
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=cfg["peak_lr"], momentum=0.9)
            sched = UBALR(
                opt,
                T_max=cfg["total_steps"],
                phi=cfg["phi"],
                eta_min=cfg["min_lr"],
                warmup_steps=cfg["warmup_steps"],
                warmup_start_lr=cfg["warmup_start_lr"],
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # 6 identical batches of 4 per epoch. Identical, because Lightning restarts a
    # non-resumable dataloader on resume (mid-epoch, and also when the checkpoint
    # ends an epoch): parameters then still match the uninterrupted run's.
    x = torch.sin(torch.arange(12, dtype=torch.float32).reshape(4, 3) * 0.7).repeat(6, 1)
    data = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True) * 0.5 - 0.2), batch_size=4, shuffle=False)

    def trainer(max_steps: int) -> pl.Trainer:
        return pl.Trainer(
            max_steps=max_steps,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )

    def params(module) -> list[float]:
        return _flat([p.detach().numpy() for p in module.parameters()])

    full = Module()
    trainer(steps).fit(full, data)
    first = Module()
    first_trainer = trainer(resume_at)
    first_trainer.fit(first, data)
    first_trainer.save_checkpoint(ckpt)
    second = Module()
    trainer(steps).fit(second, data, ckpt_path=ckpt)
    return {
        "lrs": full.lrs,
        "global_steps": full.global_steps,
        "params": params(full),
        "first_lrs": first.lrs,
        "first_global_steps": first.global_steps,
        "second_lrs": second.lrs,
        "second_global_steps": second.global_steps,
        "resumed_params": params(second),
        "lr_types": sorted({type(v).__name__ for v in full.lrs + first.lrs + second.lrs}),
    }


SCENARIOS = {f.__name__: f for f in (torch_ddp, jax_data_parallel, keras_fit, lightning)}


def main(argv: list[str]) -> None:
    """Run ``SCENARIO`` with the keyword arguments in ``ARGS_JSON``; write ``OUT_JSON``."""
    scenario, out, args = argv
    result = SCENARIOS[scenario](**json.loads(args))
    with open(out.format(rank=os.environ.get("RANK", "0")), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1:])
