"""Worker processes for tests/test_stacks.py, each run in a fresh interpreter.

Usage::

    python tests/_stack_workers.py SCENARIO OUT_JSON ARGS_JSON

A scenario trains with a real training stack (the HF ``Trainer``, accelerate on
2 gloo processes) and writes what it observed to ``OUT_JSON``: the lr that every
optimizer update used, read by a ``register_step_pre_hook`` on the torch optimizer
(it fires only when the update really runs), the scheduler's step count and the
warnings as the user would see them (the stack's own warning filters left in
place). A fresh interpreter per scenario keeps those filters, the process group
and accelerate's singletons out of the pytest process. Python's JSON writes floats
with ``repr``, so float64 values come back bit for bit. Workers assert nothing
about the schedule: tests/test_stacks.py compares with the float64 core.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import warnings
from typing import Any


def _record_lrs(optimizer) -> list[list[float]]:
    """The lr of every param group, appended each time ``optimizer.step()`` really runs."""
    used: list[list[float]] = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: used.append([float(g["lr"]) for g in opt.param_groups]))
    return used


def _warnings(caught) -> list[dict[str, str]]:
    return [{"category": w.category.__name__, "message": str(w.message)} for w in caught]


# --- 1. The HF Trainer ------------------------------------------------------------------------


def tiny_trainer_task() -> tuple[type, type]:
    """The model and dataset every Trainer worker trains: one linear layer on a fixed
    regression (torch is imported here, in the worker process)."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.linear = torch.nn.Linear(3, 1)

        def forward(self, x, labels):
            return {"loss": torch.nn.functional.mse_loss(self.linear(x), labels)}

    class Data(torch.utils.data.Dataset):
        def __init__(self, n: int) -> None:
            self.x = torch.sin(torch.arange(3 * n, dtype=torch.float32).reshape(n, 3) * 0.7)
            self.y = self.x.sum(dim=1, keepdim=True) * 0.5 - 0.2

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"x": self.x[i], "labels": self.y[i]}

    return Tiny, Data


def trainer(cfg: dict[str, Any], steps: int, resume_at: int, accum: int, out_dir: str) -> dict[str, Any]:
    """``get_uba_schedule_with_warmup`` driven by ``transformers.Trainer`` on CPU.

    Four kinds of run, each with ``gradient_accumulation_steps=accum`` and
    ``max_steps=steps`` optimizer updates:

    - ``tuple``: the scheduler passed as ``Trainer(optimizers=(opt, sched))``;
    - ``subclass``: a ``Trainer`` subclass overriding ``create_scheduler``;
    - each of them resumed by a fresh ``Trainer`` from the checkpoint written after
      ``resume_at`` updates (``resume_from_checkpoint``);
    - ``short``: the tuple run with ``num_training_steps = steps // 2``, a wrong budget.

    Args:
        cfg: The schedule, as ``UBAConfig.to_dict()`` (warmup from 0, as the factory does).
        steps: ``max_steps``.
        resume_at: ``save_steps``; the checkpoint ``checkpoint-{resume_at}`` is resumed.
        accum: ``gradient_accumulation_steps``.
        out_dir: Where the runs write their checkpoints.

    Returns:
        Per run: the lrs the updates used (every group), the lrs the Trainer logged,
        the global step at each update, the final parameters and the scheduler's
        ``last_epoch``; the checkpoint directories; the user-visible warnings of the
        short run.
    """
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from uba_torch import get_uba_schedule_with_warmup

    torch.set_num_threads(1)

    Tiny, Data = tiny_trainer_task()

    class StepRecorder(TrainerCallback):
        def __init__(self) -> None:
            self.global_steps: list[int] = []

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self.global_steps.append(state.global_step)

    class UBATrainer(Trainer):
        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = get_uba_schedule_with_warmup(
                    self.optimizer if optimizer is None else optimizer,
                    num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                    num_training_steps=num_training_steps,
                    phi=cfg["phi"],
                    min_lr=cfg["min_lr"],
                )
            return self.lr_scheduler

    batch = 2
    data = Data(steps * accum * batch)

    def arguments(name: str) -> TrainingArguments:
        return TrainingArguments(
            output_dir=os.path.join(out_dir, name),
            max_steps=steps,
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accum,
            learning_rate=cfg["peak_lr"],
            warmup_steps=cfg["warmup_steps"],
            logging_steps=1,
            save_strategy="steps",
            save_steps=resume_at,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            seed=0,
        )

    def run(kind: str, name: str, resume: str | None = None, budget: int = steps) -> dict[str, Any]:
        model = Tiny()
        recorder = StepRecorder()
        if kind == "subclass":
            trainer = UBATrainer(model=model, args=arguments(name), train_dataset=data, callbacks=[recorder])
            trainer.create_optimizer()  # what train() would do; so that the hook can be attached
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=cfg["peak_lr"])
            sched = get_uba_schedule_with_warmup(opt, cfg["warmup_steps"], budget, phi=cfg["phi"], min_lr=cfg["min_lr"])
            trainer = Trainer(
                model=model, args=arguments(name), train_dataset=data, optimizers=(opt, sched), callbacks=[recorder]
            )
        used = _record_lrs(trainer.optimizer)
        with warnings.catch_warnings(record=True) as caught:  # the filters stay as the stack set them
            trainer.train(resume_from_checkpoint=resume)
        return {
            "lrs": used,
            "global_steps": recorder.global_steps,
            "logged": [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h],
            "params": [float(v) for p in model.parameters() for v in p.detach().flatten()],
            "last_epoch": trainer.lr_scheduler.last_epoch,
            "scheduler": type(trainer.lr_scheduler).__name__,
            "warnings": _warnings(caught),
        }

    out: dict[str, Any] = {}
    for kind in ("tuple", "subclass"):
        out[kind] = run(kind, kind)
        checkpoint = os.path.join(out_dir, kind, f"checkpoint-{resume_at}")
        out[f"{kind}_checkpoint"] = checkpoint
        out[f"{kind}_resumed"] = run(kind, f"{kind}-resumed", resume=checkpoint)
    out["short"] = run("tuple", "short", budget=steps // 2)
    return out


# --- 2. accelerate on 2 CPU processes ----------------------------------------------------------


def accelerate(cfg: dict[str, Any], recipe: str, updates: int, accum: int, batch: int) -> dict[str, Any]:
    """One rank of a 2-process accelerate run that prepares ``UBALR`` (RANK, WORLD_SIZE,
    UBA_DDP_INIT come from the environment).

    The process group is initialised here with a file rendezvous (no TCP port to
    find); ``Accelerator(cpu=True)`` then finds it, as it does under ``accelerate
    launch --cpu``. Recipes (``P`` = number of processes, ``T`` = ``cfg``'s budget):

    - ``default``: ``UBALR(T_max=T)`` prepared as is (the wrong budget);
    - ``scaled``: ``UBALR(T_max=T * P, warmup_steps=W * P)`` prepared;
    - ``split``: ``Accelerator(dataloader_config=DataLoaderConfiguration(split_batches=True))``;
    - ``split_kwarg``: ``Accelerator(split_batches=True)``, the pre-1.0 spelling;
    - ``manual``: ``Accelerator(step_scheduler_with_optimizer=False)`` and
      ``scheduler.step()`` only when ``accelerator.sync_gradients``.

    Args:
        cfg: The schedule, as ``UBAConfig.to_dict()``, in optimizer updates.
        recipe: One of the above.
        updates: Optimizer updates to run (the data holds exactly that many).
        accum: ``gradient_accumulation_steps``.
        batch: Batch size per process and micro-step.

    Returns:
        Rank, process count, the per-process batch accelerate produced, the lrs
        the updates used, the scheduler's ``last_epoch``, the user-visible warnings
        and the final parameters.
    """
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    os.environ.update(LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=os.environ["UBA_DDP_INIT"],
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )

    from accelerate import Accelerator, DataLoaderConfiguration
    from torch.utils.data import DataLoader, TensorDataset

    from uba_torch import UBALR

    options: dict[str, Any] = {"cpu": True, "gradient_accumulation_steps": accum}
    if recipe == "split":
        options["dataloader_config"] = DataLoaderConfiguration(split_batches=True)
    elif recipe == "split_kwarg":
        options["split_batches"] = True
    elif recipe == "manual":
        options["step_scheduler_with_optimizer"] = False
    accelerator = Accelerator(**options)
    world = accelerator.num_processes

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["peak_lr"], momentum=0.9)
    used = _record_lrs(opt)
    scale = world if recipe == "scaled" else 1
    sched = UBALR(
        opt,
        T_max=cfg["total_steps"] * scale,
        eta_min=cfg["min_lr"],
        phi=cfg["phi"],
        warmup_steps=cfg["warmup_steps"] * scale,
        warmup_start_lr=cfg["warmup_start_lr"],
    )

    splits = recipe.startswith("split")  # the dataloader's batch is the global one
    n = updates * accum * batch * world
    x = torch.sin(torch.arange(3 * n, dtype=torch.float64).reshape(n, 3) * 0.37)
    loader = DataLoader(
        TensorDataset(x, x.sum(dim=1, keepdim=True) * 0.5 + 0.1), batch_size=batch * world if splits else batch
    )
    model, opt, loader, sched = accelerator.prepare(model, opt, loader, sched)

    shapes = set()
    with warnings.catch_warnings(record=True) as caught:  # accelerate's filters stay in place
        for xb, yb in loader:
            shapes.add(xb.shape[0])
            with accelerator.accumulate(model):
                accelerator.backward(torch.nn.functional.mse_loss(model(xb), yb))
                opt.step()
                # "manual": step the scheduler only when the optimizer really stepped.
                if recipe != "manual" or (accelerator.sync_gradients and not accelerator.optimizer_step_was_skipped):
                    sched.step()
                opt.zero_grad()
    result = {
        "rank": accelerator.process_index,
        "num_processes": world,
        "process_batches": sorted(shapes),
        "lrs": [lrs[0] for lrs in used],
        "last_epoch": sched.scheduler.last_epoch,
        "T_max": sched.scheduler.T_max,
        "warnings": _warnings(caught),
        "params": [float(v) for p in model.parameters() for v in p.detach().flatten()],
    }
    dist.barrier()
    dist.destroy_process_group()
    return result


SCENARIOS = {f.__name__: f for f in (trainer, accelerate)}


def main(argv: list[str]) -> None:
    """Run ``SCENARIO`` with the keyword arguments in ``ARGS_JSON``; write ``OUT_JSON``."""
    scenario, out, args = argv
    result = SCENARIOS[scenario](**json.loads(args))
    with open(out.format(rank=os.environ.get("RANK", "0")), "w") as f:
        json.dump(result, f)
    # The result is on disk: skip the interpreter's finalization, where gloo's threads
    # occasionally abort a rank ("terminate called without an active exception") after
    # the process group was destroyed cleanly.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
