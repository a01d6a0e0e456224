"""uba_core: the UBA learning-rate schedule in numpy, shared by every adapter.

Importing this package loads numpy and the standard library only; the framework
adapters live in ``uba_torch``, ``uba_jax`` and ``uba_tf``. Ways of choosing phi that
have not met their bar live in ``uba_core.experimental``.
"""

from uba_core._chebyshev import (
    PhiShape,
    chebyshev_config,
    chebyshev_residual_bound,
    chebyshev_step_sizes,
    condition_number_for_phi,
    describe_phi,
    mean_lr_factor,
    mean_sq_lr_factor,
    phi_for_condition_number,
    worst_case_residual,
)
from uba_core._restarts import RestartConfig, restart_lr
from uba_core._schedule import DEFAULT_PHI, UBAConfig, uba_factor, uba_lr
from uba_core._spectrum import Spectrum, stochastic_lanczos_quadrature
from uba_core._transfer import LRTransfer, transfer_lr

__version__ = "0.2.0.dev0"  # the one version: pyproject.toml reads it

__all__ = [
    "DEFAULT_PHI",
    "LRTransfer",
    "PhiShape",
    "RestartConfig",
    "Spectrum",
    "UBAConfig",
    "__version__",
    "chebyshev_config",
    "chebyshev_residual_bound",
    "chebyshev_step_sizes",
    "condition_number_for_phi",
    "describe_phi",
    "mean_lr_factor",
    "mean_sq_lr_factor",
    "phi_for_condition_number",
    "restart_lr",
    "stochastic_lanczos_quadrature",
    "transfer_lr",
    "uba_factor",
    "uba_lr",
    "worst_case_residual",
]
