"""The training tasks of benchmarks/budgeted.py. Every data set is available offline.

Each task trains one configuration (schedule, peak lr, budget) for several seeds
and returns, per seed, the validation metric (used to choose lr and phi), the test
metric (used to count wins) and a coarse training-loss curve. Lower is better.

- quadratic-k10 / quadratic-k1000: noisy least squares, Hessian spectrum
  log-spaced in [1 / kappa, 1] (d = 100), SGD with Gaussian gradient noise;
  metric: final excess loss. Validation and test use different noise and starts.
- digits-mlp (torch), digits-optax (jax), digits-keras (keras, TF backend):
  scikit-learn's bundled 8x8 digits, a 64-128-10 MLP; metric: cross-entropy on
  the validation / test split.
- char-lm (torch): a small 2-layer decoder-only transformer on a deterministic corpus of
  Python standard-library source files; metric: bits per character.
"""

from __future__ import annotations

import hashlib
import math
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from schedules import keras_schedule, multipliers, optax_schedule, torch_scheduler

CURVE_POINTS = 40


@dataclass(frozen=True)
class Task:
    name: str
    framework: str
    budgets: tuple[int, int, int]
    lr_grid: tuple[float, ...]
    metric: str
    quick_budget: int = field(default=0)

    def run(self, schedule: str, peak: float, budget: int, seeds: list[int], keep_losses: bool = False) -> list[dict]:
        """Per seed: "val", "test", "curve" and, with ``keep_losses``, "losses" (every step's training loss)."""
        out = RUNNERS[self.name](self, schedule, peak, budget, seeds)
        if not keep_losses:
            for r in out:
                del r["losses"]
        return out


def _curve(losses: np.ndarray) -> list[float]:
    """Mean training loss in CURVE_POINTS equal windows (NaN where it diverged)."""
    chunks = np.array_split(np.asarray(losses, dtype=np.float64), CURVE_POINTS)
    return [float(c.mean()) if len(c) else math.nan for c in chunks]


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else math.inf


# --- quadratic (numpy) ------------------------------------------------------------------


def run_quadratic(task: Task, schedule: str, peak: float, budget: int, seeds: list[int]) -> list[dict]:
    kappa = float(task.name.split("-k")[1])
    d, sigma = 100, 0.05
    h = np.logspace(0, -math.log10(kappa), d)  # eigenvalues in [1 / kappa, 1]
    lrs = peak * multipliers(schedule, budget)  # numpy: cosine is the formula itself
    out = []
    for seed in seeds:
        metrics, curve = {}, None
        for split, offset in (("val", 10_000), ("test", 0)):
            rng = np.random.default_rng(seed + offset)
            x = rng.standard_normal(d)
            losses = np.empty(budget)
            with np.errstate(over="ignore", invalid="ignore"):
                for t in range(budget):
                    losses[t] = 0.5 * np.sum(h * x * x)
                    x = x - lrs[t] * (h * x + sigma * rng.standard_normal(d))
                final = 0.5 * np.sum(h * x * x)
            metrics[split] = _finite(final)
            if split == "test":
                curve, test_losses = _curve(losses), losses.tolist()
        out.append({"val": metrics["val"], "test": metrics["test"], "curve": curve, "losses": test_losses})
    return out


# --- digits (shared data) ---------------------------------------------------------------


def digits_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's digits, scaled to [0, 1], split 60 / 20 / 20 with a fixed permutation."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(12345).permutation(len(x))
    a, b = int(0.6 * len(x)), int(0.8 * len(x))
    return {
        "train": (x[order[:a]], y[order[:a]]),
        "val": (x[order[a:b]], y[order[a:b]]),
        "test": (x[order[b:]], y[order[b:]]),
    }


def batch_indices(n: int, budget: int, batch: int, seed: int) -> np.ndarray:
    """(budget, batch) indices: shuffled epochs, seeded."""
    rng = np.random.default_rng(seed)
    epochs = math.ceil(budget * batch / n)
    flat = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return flat[: budget * batch].reshape(budget, batch)


def run_digits_torch(task: Task, schedule: str, peak: float, budget: int, seeds: list[int]) -> list[dict]:
    import torch

    data = digits_split()
    tensors = {k: (torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in data.items()}
    xtr, ytr = tensors["train"]
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = _torch_cnn() if task.name == "digits-cnn" else _torch_mlp()
        if task.name == "digits-cnn":
            opt = torch.optim.AdamW(model.parameters(), lr=peak, weight_decay=1e-2)
        else:  # digits-sgd: plain SGD, as a user's first try
            opt = torch.optim.SGD(model.parameters(), lr=peak, momentum=0.9 if task.name == "digits-mlp" else 0.0)
        sched = torch_scheduler(schedule, opt, budget, peak)
        losses = np.empty(budget)
        for t, idx in enumerate(batch_indices(len(xtr), budget, 32, seed)):
            idx = torch.from_numpy(idx)
            loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses[t] = loss.item()
        with torch.no_grad():
            ev = {
                k: _finite(torch.nn.functional.cross_entropy(model(x), y).item())
                for k, (x, y) in tensors.items()
                if k != "train"
            }
            acc = float((model(tensors["test"][0]).argmax(1) == tensors["test"][1]).float().mean())
        out.append(
            {"val": ev["val"], "test": ev["test"], "test_acc": acc, "curve": _curve(losses), "losses": losses.tolist()}
        )
    return out


def _jax_mlp():
    """``(init(key) -> params, loss(params, x, y))`` of the digits MLP in JAX."""
    import jax
    import jax.numpy as jnp
    import optax

    def init(key):
        k1, k2 = jax.random.split(key)
        # torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        return {
            "w1": jax.random.uniform(k1, (64, 128), minval=-1, maxval=1) / 8.0,
            "b1": jnp.zeros(128),
            "w2": jax.random.uniform(k2, (128, 10), minval=-1, maxval=1) / math.sqrt(128),
            "b2": jnp.zeros(10),
        }

    def loss(p, x, y):
        logits = jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return init, loss


def _torch_mlp():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def _torch_cnn():
    """A small convolutional net on the 8x8 digits: two 3x3 convolutions with pooling."""
    import torch

    nn = torch.nn
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 10),
    )  # fmt: skip


def run_digits_optax(task: Task, schedule: str, peak: float, budget: int, seeds: list[int]) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import optax

    data = {k: (jnp.asarray(x), jnp.asarray(y)) for k, (x, y) in digits_split().items()}
    xtr, ytr = data["train"]
    opt = optax.adamw(learning_rate=optax_schedule(schedule, budget, peak), weight_decay=1e-4)

    init, loss_fn = _jax_mlp()

    def train(key, idx):
        params = init(key)

        def step(carry, batch):
            p, s = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, xtr[batch], ytr[batch])
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), idx)
        return losses, loss_fn(params, *data["val"]), loss_fn(params, *data["test"])

    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    idx = jnp.stack([jnp.asarray(batch_indices(len(xtr), budget, 32, s)) for s in seeds])
    losses, val, test = jax.jit(jax.vmap(train))(keys, idx)
    return [
        {"val": _finite(float(v)), "test": _finite(float(t)), "curve": _curve(np.asarray(c)), "losses": c.tolist()}
        for c, v, t in zip(losses, val, test, strict=True)
    ]


def run_digits_keras(task: Task, schedule: str, peak: float, budget: int, seeds: list[int]) -> list[dict]:
    import keras

    data = digits_split()
    xtr, ytr = data["train"]
    out = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
        )
        opt = keras.optimizers.SGD(learning_rate=keras_schedule(schedule, budget, peak), momentum=0.9)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=opt, loss=loss)
        idx = batch_indices(len(xtr), budget, 32, seed).ravel()
        record = _running_losses()
        model.fit(xtr[idx], ytr[idx], batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[record])
        running = np.asarray(record.values)
        k = np.arange(1, len(running) + 1)
        batch_losses = k * running - np.concatenate([[0.0], (k[:-1]) * running[:-1]])
        ev = {s: _finite(float(loss(data[s][1], model.predict(data[s][0], verbose=0)))) for s in ("val", "test")}
        out.append(
            {"val": ev["val"], "test": ev["test"], "curve": _curve(batch_losses), "losses": batch_losses.tolist()}
        )
    return out


def _running_losses():
    """A callback collecting the loss keras 3 logs after each batch (the epoch's running mean)."""
    import keras

    class RunningLosses(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.values: list[float] = []

        def on_train_batch_end(self, batch, logs=None) -> None:
            self.values.append(float(logs["loss"]))

    return RunningLosses()


# --- char-lm (torch) --------------------------------------------------------------------

CORPUS_FILES = (
    "argparse.py",
    "functools.py",
    "textwrap.py",
    "collections/__init__.py",
    "dataclasses.py",
    "statistics.py",
    "heapq.py",
    "difflib.py",
)
CONTEXT, BATCH = 32, 16


def corpus() -> tuple[np.ndarray, dict]:
    """The standard library files above, concatenated; byte-level tokens."""
    root = Path(sysconfig.get_paths()["stdlib"])
    text = "".join((root / name).read_text(encoding="utf-8") for name in CORPUS_FILES)
    raw = text.encode("utf-8")
    info = {"files": list(CORPUS_FILES), "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    return np.frombuffer(raw, dtype=np.uint8).astype(np.int64), info


def run_char_lm(task: Task, schedule: str, peak: float, budget: int, seeds: list[int]) -> list[dict]:
    import torch

    tokens, _ = corpus()
    n = len(tokens)
    splits = {
        "train": tokens[: int(0.9 * n)],
        "val": tokens[int(0.9 * n) : int(0.95 * n)],
        "test": tokens[int(0.95 * n) :],
    }
    data = {k: torch.from_numpy(v) for k, v in splits.items()}

    def windows(split: str, rng: np.random.Generator, count: int) -> torch.Tensor:
        starts = rng.integers(0, len(data[split]) - CONTEXT - 1, count)
        return torch.stack([data[split][s : s + CONTEXT + 1] for s in starts])

    eval_rng = np.random.default_rng(777)
    held = {k: windows(k, eval_rng, 512) for k in ("val", "test")}
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = TinyGPT()
        opt = torch.optim.AdamW(model.parameters(), lr=peak, weight_decay=0.01)
        sched = torch_scheduler(schedule, opt, budget, peak)
        rng = np.random.default_rng(seed)
        losses = np.empty(budget)
        for t in range(budget):
            batch = windows("train", rng, BATCH)
            loss = model.loss(batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses[t] = loss.item()
        model.eval()
        with torch.no_grad():
            bpc = {k: _finite(model.loss(v).item() / math.log(2)) for k, v in held.items()}
        bits = losses / math.log(2)
        out.append({"val": bpc["val"], "test": bpc["test"], "curve": _curve(bits), "losses": bits.tolist()})
    return out


def TinyGPT():
    import torch

    class Model(torch.nn.Module):
        """Byte-level decoder-only transformer: 2 layers, width 64, 4 heads, context 32."""

        def __init__(self, width: int = 64, layers: int = 2, heads: int = 4) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(256, width)
            self.pos = torch.nn.Parameter(torch.zeros(CONTEXT, width))
            layer = torch.nn.TransformerEncoderLayer(
                width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True
            )
            self.blocks = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = torch.nn.LayerNorm(width)
            self.head = torch.nn.Linear(width, 256)
            self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(CONTEXT))

        def loss(self, batch: torch.Tensor) -> torch.Tensor:
            x, y = batch[:, :-1], batch[:, 1:]
            h = self.embed(x) + self.pos
            h = self.blocks(h, mask=self.mask, is_causal=True)
            logits = self.head(self.norm(h))
            return torch.nn.functional.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))

    return Model()


def task_spectrum(task_name: str, seed: int = 0, **estimator_kwargs):
    """The Hessian spectrum of a task at its initialization: :func:`spectrum_problem` run
    through the matching estimator (uba_core, uba_torch or uba_jax) with ``estimator_kwargs``."""
    problem = dict(spectrum_problem(task_name, seed))
    framework = problem.pop("framework")
    if framework == "torch":
        from uba_torch import estimate_spectrum
    elif framework == "jax":
        from uba_jax import estimate_spectrum
    else:
        from uba_core import stochastic_lanczos_quadrature as estimate_spectrum
    return estimate_spectrum(**problem, seed=seed, **estimator_kwargs)


def task_gradient_noise(task_name: str, seed: int = 0, count: int = 8):
    """The minibatch gradient noise of a task at its initialization (``seed``): ``count``
    training minibatches of the runner's batch size (32 digits, 16 windows for char-lm;
    the quadratics' gradient noise is sigma times a normal vector at a start drawn as
    run_quadratic draws it), through the matching ``estimate_gradient_noise``."""
    problem = dict(spectrum_problem(task_name, seed))
    framework = problem.pop("framework")
    rng = np.random.default_rng(10_000 + seed)
    if framework == "numpy":
        import uba_core.experimental

        h = problem["matvec"](np.ones(problem["dim"]))
        x = rng.standard_normal(h.size)
        grads = h * x + 0.05 * rng.standard_normal((count, h.size))
        return uba_core.experimental.gradient_noise(grads, np.full(count, 0.5 * np.sum(h * x * x)), problem["matvec"])
    if task_name == "char-lm":
        batches = train_windows(rng, count, BATCH)
    else:
        xtr, ytr = digits_split()["train"]
        idx = batch_indices(len(xtr), count, 32, seed)
        if framework == "jax":
            import jax.numpy as jnp

            batches = [(jnp.asarray(xtr[i]), jnp.asarray(ytr[i])) for i in idx]
        else:
            import torch

            batches = [(torch.from_numpy(xtr[i]), torch.from_numpy(ytr[i])) for i in idx]
    if framework == "torch":
        from uba_torch import estimate_gradient_noise

        return estimate_gradient_noise(problem["model"], problem["loss_fn"], batches)
    from uba_jax import estimate_gradient_noise

    return estimate_gradient_noise(problem["loss_fn"], problem["params"], batches)


RUNNERS = {
    "quadratic-k10": run_quadratic,
    "quadratic-k1000": run_quadratic,
    "digits-mlp": run_digits_torch,
    "digits-sgd": run_digits_torch,
    "digits-cnn": run_digits_torch,
    "digits-optax": run_digits_optax,
    "digits-keras": run_digits_keras,
    "char-lm": run_char_lm,
}

TASKS = {
    "quadratic-k10": Task(
        "quadratic-k10", "numpy", (100, 300, 1000), (0.05, 0.1, 0.2, 0.5, 1.0, 2.0), "final excess loss", 100
    ),
    "quadratic-k1000": Task(
        "quadratic-k1000", "numpy", (100, 300, 1000), (0.05, 0.1, 0.2, 0.5, 1.0, 2.0), "final excess loss", 300
    ),
    "digits-mlp": Task("digits-mlp", "torch", (150, 500, 1500), (0.01, 0.03, 0.1, 0.3, 1.0), "test cross-entropy", 150),
    "digits-optax": Task(
        "digits-optax", "jax", (150, 500, 1500), (1e-3, 3e-3, 1e-2, 3e-2, 1e-1), "test cross-entropy", 150
    ),
    "digits-keras": Task("digits-keras", "keras", (100, 300, 1000), (0.01, 0.03, 0.1, 0.3), "test cross-entropy", 100),
    "char-lm": Task("char-lm", "torch", (40, 120, 400), (1e-3, 3e-3, 1e-2, 3e-2), "bits per character", 40),
}

# Tasks outside the budgeted grid: a new architecture and optimizer for the selector's
# held-out scoring, and the plain-SGD MLP of a user's trial (benchmarks/selector.py).
EXTRA_TASKS = {
    "digits-cnn": Task("digits-cnn", "torch", (150, 500, 1500), (1e-3, 3e-3, 1e-2, 3e-2), "test cross-entropy", 150),
    "digits-sgd": Task("digits-sgd", "torch", (1500,), (0.1, 0.8), "test cross-entropy", 1500),
}
ALL_TASKS = TASKS | EXTRA_TASKS


# --- Hessian spectra for `python benchmarks/suggested.py` -------------------------------

SPECTRUM_TASKS = ("quadratic-k10", "quadratic-k1000", "digits-mlp", "digits-optax", "char-lm", "digits-cnn")


def spectrum_problem(task_name: str, seed: int = 0) -> dict:
    """What a spectrum estimator needs for a task's loss, at the model's initialization for ``seed``.

    Returns a dict with ``framework`` ("numpy", "torch" or "jax") and the keyword arguments
    of the matching estimator:

    - numpy (the quadratics): ``matvec`` (the known Hessian diag(h)) and ``dim``, for
      ``uba_core.stochastic_lanczos_quadrature``;
    - torch (digits-mlp, char-lm): ``model``, ``loss_fn(model, batch)``, ``batches``, for
      ``uba_torch.estimate_spectrum``;
    - jax (digits-optax): ``loss_fn(params, batch)``, ``params``, ``batches``, for
      ``uba_jax.estimate_spectrum``.

    The models and initializations are those the runners above train from (same seed);
    the digits tasks use the whole training split as one batch, char-lm 4 batches of 32
    training windows. digits-keras has no estimator (keras) and raises ValueError.
    """
    if task_name not in SPECTRUM_TASKS:
        raise ValueError(
            f"Argument `task_name` must be one of {', '.join(SPECTRUM_TASKS)} "
            f"(digits-keras has no estimator). Received: task_name={task_name!r}."
        )
    if task_name.startswith("quadratic"):
        h = np.logspace(0, -math.log10(float(task_name.split("-k")[1])), 100)  # as run_quadratic
        return {"framework": "numpy", "matvec": lambda v: h * v, "dim": h.size}
    if task_name == "digits-optax":
        import jax
        import jax.numpy as jnp

        xtr, ytr = digits_split()["train"]
        init, loss = _jax_mlp()
        return {
            "framework": "jax",
            "params": init(jax.random.PRNGKey(seed)),
            "loss_fn": lambda p, batch: loss(p, *batch),
            "batches": [(jnp.asarray(xtr), jnp.asarray(ytr))],
        }
    import torch

    torch.manual_seed(seed)
    if task_name in ("digits-mlp", "digits-cnn"):
        xtr, ytr = digits_split()["train"]
        model = _torch_cnn() if task_name == "digits-cnn" else _torch_mlp()
        return {
            "framework": "torch",
            "model": model,
            "batches": [(torch.from_numpy(xtr), torch.from_numpy(ytr))],
            "loss_fn": lambda m, batch: torch.nn.functional.cross_entropy(m(batch[0]), batch[1]),
        }

    class LossOf(torch.nn.Module):  # estimate_spectrum differentiates forward: make it TinyGPT.loss
        def __init__(self) -> None:
            super().__init__()
            self.gpt = TinyGPT()

        def forward(self, batch: torch.Tensor) -> torch.Tensor:
            return self.gpt.loss(batch)

    model = LossOf()
    batches = train_windows(np.random.default_rng(seed), 4, 32)
    return {"framework": "torch", "model": model, "batches": batches, "loss_fn": lambda m, batch: m(batch)}


def train_windows(rng: np.random.Generator, batches: int, size: int) -> list:
    """``batches`` torch batches of ``size`` random char-lm training windows (CONTEXT + 1 tokens)."""
    import torch

    tokens = torch.from_numpy(corpus()[0])
    train = tokens[: int(0.9 * len(tokens))]
    starts = rng.integers(0, len(train) - CONTEXT - 1, (batches, size))
    return [torch.stack([train[s : s + CONTEXT + 1] for s in row]) for row in starts]
