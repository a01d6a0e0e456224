"""uba_core: the UBA learning-rate schedule in numpy, shared by every adapter.

Importing this package loads numpy and the standard library only; the framework
adapters live in ``uba_torch``, ``uba_jax`` and ``uba_tf``.
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
from uba_core._select import (
    CANDIDATE_PHIS,
    AnnealingLaw,
    GradientNoise,
    NoisyQuadratic,
    PhiCandidate,
    PhiSelection,
    gradient_noise,
    select_phi,
)
from uba_core._spectrum import PhiSuggestion, Spectrum, stochastic_lanczos_quadrature, suggest_phi

__version__ = "0.2.0.dev0"  # the one version: pyproject.toml reads it

__all__ = [
    "CANDIDATE_PHIS",
    "DEFAULT_PHI",
    "AnnealingLaw",
    "GradientNoise",
    "NoisyQuadratic",
    "PhiCandidate",
    "PhiSelection",
    "PhiShape",
    "PhiSuggestion",
    "RestartConfig",
    "Spectrum",
    "UBAConfig",
    "__version__",
    "chebyshev_config",
    "chebyshev_residual_bound",
    "chebyshev_step_sizes",
    "condition_number_for_phi",
    "describe_phi",
    "gradient_noise",
    "mean_lr_factor",
    "mean_sq_lr_factor",
    "phi_for_condition_number",
    "restart_lr",
    "select_phi",
    "stochastic_lanczos_quadrature",
    "suggest_phi",
    "uba_factor",
    "uba_lr",
    "worst_case_residual",
]
