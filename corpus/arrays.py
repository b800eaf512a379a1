"""Small array helpers that the stages share."""

from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array, as `np.unique(values)`.

    numpy 2.4's `np.unique` without return_* options hashes, which is 10 to 20 times slower
    than sorting for the integer arrays used here (1.1 s against 0.06 s for a million values).
    """
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
