"""A `Parameter` that breaks the rule that its arrays never move, for the tests that must cope with one."""

from __future__ import annotations

import numpy as np

import minibp as bp


class MovingParameter(bp.Parameter):
    """The old design's parameter: assigning to data replaces the array instead of copying into it."""

    __slots__ = ()

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data = np.array(value)
