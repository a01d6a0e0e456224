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
from uba_core._schedule import DEFAULT_PHI, CurveCache, UBAConfig, make_config, uba_factor, uba_lr
from uba_core._spectrum import (
    MU_EFF_TOL,
    PhiSuggestion,
    Spectrum,
    gauss_quadrature,
    kappa_cap,
    lanczos,
    spectral_density,
    spectral_quantile,
    spectrum_from_tridiagonals,
    stochastic_lanczos_quadrature,
    suggest_phi,
)
from uba_core._validation import (
    check_float32_positive,
    check_int,
    check_real,
    per_group,
    require_framework,
)

__version__ = "0.2.0.dev0"  # the one version: pyproject.toml reads it

__all__ = [
    "CurveCache",
    "DEFAULT_PHI",
    "MU_EFF_TOL",
    "PhiShape",
    "PhiSuggestion",
    "Spectrum",
    "UBAConfig",
    "chebyshev_config",
    "chebyshev_residual_bound",
    "chebyshev_step_sizes",
    "check_float32_positive",
    "check_int",
    "check_real",
    "condition_number_for_phi",
    "describe_phi",
    "gauss_quadrature",
    "kappa_cap",
    "lanczos",
    "make_config",
    "mean_lr_factor",
    "mean_sq_lr_factor",
    "per_group",
    "phi_for_condition_number",
    "require_framework",
    "spectral_density",
    "spectral_quantile",
    "spectrum_from_tridiagonals",
    "stochastic_lanczos_quadrature",
    "suggest_phi",
    "uba_factor",
    "uba_lr",
    "worst_case_residual",
]
