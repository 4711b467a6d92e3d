from converter.optimize.layers import LayerRules, resolve
from converter.optimize.prune import satisfies_m_by_n

import numpy as np


def test_name_over_type_over_global():
    rules = LayerRules(default=0.0, by_type={"Dense": 0.5, "Conv2D": 0.75}, by_name={"probs": 0.0, "conv_.*": 0.9})
    assert resolve("probs", "Dense", rules) == 0.0  # name wins over type
    assert resolve("conv_b", "Conv2D", rules) == 0.9  # regex, full match
    assert resolve("xconv_b", "Conv2D", rules) == 0.75  # no partial matches
    assert resolve("hidden", "Dense", rules) == 0.5
    assert resolve("bn", "BatchNormalization", rules) == 0.0


def test_m_by_n_pattern():
    ok = np.array([[1, 0, 2, 0], [0, 3, 0, 4]], np.int8)  # rows: 2 non-zeros in each block of 4
    assert satisfies_m_by_n(ok, 2, 4, axis=-1)
    assert not satisfies_m_by_n(np.ones((2, 4)), 2, 4, axis=-1)
    assert not satisfies_m_by_n(np.zeros((2, 6)), 2, 4, axis=-1)  # not a multiple of n
