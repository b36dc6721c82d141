"""A borough's wards: the deprivation profile is the borough's, not a draw per seed."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.population import BoroughSpec, PopulationParams, build_geography
from sim.rng import Streams


def _geography(seed: int, **params):
    return build_geography(PopulationParams(**params), Streams(seed)["population"])


def test_every_seed_gives_a_borough_the_same_ward_deprivation_profile():
    # Drawing each ward's score made the most deprived of Croydon's 28 wards range
    # from 0.7 to 3.3 SD over 20 seeds, and with it the borough's volume and reoffending.
    profiles = [np.sort(_geography(seed).ward_deprivation) for seed in range(5)]
    for profile in profiles[1:]:
        np.testing.assert_array_equal(profile, profiles[0])


def test_the_profile_has_the_stated_mean_spread_and_shape():
    p = PopulationParams(deprivation_mean=-0.5, deprivation_sd=1.2, wards=40)
    dep = build_geography(p, Streams(1)["population"]).ward_deprivation
    assert abs(dep.mean() + 0.5) < 1e-12
    # Evenly spaced quantiles of the normal: the top ward sits at the 39.5/40 quantile.
    assert abs(dep.max() - (-0.5 + 1.2 * stats.norm.ppf(39.5 / 40))) < 1e-12
    assert 1.0 < dep.std() < 1.2  # quantile midpoints are a little narrower than the SD


def test_which_ward_is_most_deprived_still_varies_with_the_seed():
    tops = {int(np.argmax(_geography(seed).ward_deprivation)) for seed in range(8)}
    assert len(tops) > 1


def test_each_borough_of_an_area_keeps_its_own_level():
    boroughs = [
        BoroughSpec(name="A", population_10_17=800, wards=10, secondary_schools=2),
        BoroughSpec(name="B", population_10_17=800, wards=10, secondary_schools=2, deprivation=1),
    ]
    geo = _geography(3, boroughs=boroughs)
    by_borough = [geo.ward_deprivation[geo.ward_borough == b] for b in (0, 1)]
    np.testing.assert_allclose(np.sort(by_borough[1]) - np.sort(by_borough[0]), 1.0)
