"""Type aliases shared across hillmix's public signatures."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

ArrayLike: TypeAlias = npt.ArrayLike
"""Anything :func:`numpy.asarray` accepts."""

MatrixLike: TypeAlias = np.ndarray | pd.DataFrame
"""A 2-D table of shape (n_periods, n_columns)."""

RandomStateLike: TypeAlias = int | np.random.Generator | None
"""The accepted forms of ``random_state``."""
