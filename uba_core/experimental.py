"""Ways of choosing phi that have not met their bar: experimental, and documented as such.

Everything here was scored on benchmark cells it was not designed on (docs: choosing
phi) and missed at least one of its targets, so it is not part of the stable API
(``uba_core.__all__``) and may change or go. When in doubt, keep phi = 2 (cosine)
and, to try another phi, move your tuned lr with [`uba_core.transfer_lr`][uba_core.transfer_lr].

- [`compare_phis`][uba_core.experimental.compare_phis] and
  [`pilot_plan`][uba_core.experimental.pilot_plan]: a direct comparison on short,
  paired pilots.
- [`select_phi`][uba_core.experimental.select_phi] with a loss model:
  [`NoisyQuadratic`][uba_core.experimental.NoisyQuadratic] (Hessian spectrum and
  gradient noise, no training) or [`AnnealingLaw`][uba_core.experimental.AnnealingLaw]
  (a loss law fitted to pilot logs), and [`consensus`][uba_core.experimental.consensus]
  of several selections.
- [`suggest_phi`][uba_core.experimental.suggest_phi]: phi = 2 kappa from a spectrum.
"""

from uba_core._compare import PhiComparison, PilotPlan, compare_phis, pilot_plan
from uba_core._select import (
    CANDIDATE_PHIS,
    AnnealingLaw,
    GradientNoise,
    NoisyQuadratic,
    PhiCandidate,
    PhiSelection,
    consensus,
    gradient_noise,
    select_phi,
)
from uba_core._spectrum import PhiSuggestion, suggest_phi

__all__ = [
    "CANDIDATE_PHIS",
    "AnnealingLaw",
    "GradientNoise",
    "NoisyQuadratic",
    "PhiCandidate",
    "PhiComparison",
    "PhiSelection",
    "PhiSuggestion",
    "PilotPlan",
    "compare_phis",
    "consensus",
    "gradient_noise",
    "pilot_plan",
    "select_phi",
    "suggest_phi",
]
