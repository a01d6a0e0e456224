"""The refined last-iterate bound's optimal base lr, written out from its statement.

Defazio, Cutkosky, Mehta and Mishchenko (2023), Theorem 10, with D = G = 1: for rates
gamma * s_1 .. s_T the bound is t1 / gamma + gamma (t2 + t3), minimised at
gamma* = sqrt(t1 / (t2 + t3)). Every sum is taken afresh for every k (quadratic time),
so that nothing is shared with the library's suffix sums.
"""

from __future__ import annotations

import math


def refined_bound_base_lr(rates) -> float:
    s = [float(x) for x in rates]
    total = sum(s)
    t1 = 1.0 / (2.0 * total)
    t2 = sum(x * x for x in s) / (2.0 * total)
    t3 = 0.0
    for k in range(len(s) - 1):
        if s[k] > 0:
            t3 += s[k] / sum(s[k + 1 :]) * sum(x * x for x in s[k:]) / sum(s[k:])
    return math.sqrt(t1 / (t2 + 0.5 * t3))
