"""The multilayer social network: random graph models per group, stored as scipy.sparse CSR.

Layers: school (same school and year group), neighbourhood (same ward),
friendship (homophily by age, school and ward), siblings, gang. School ties
are Watts-Strogatz small worlds and friendship and neighbourhood ties are
G(n, p) graphs within groups, generated for all groups at once in numpy (the
same models as networkx's generators, which tests/test_network.py checks
them against; calling networkx per group costs ~2 ms a group and Python
objects per tie, too slow for London's ~12,000 school-year groups); gangs use
networkx's G(n, p) draws, replayed in numpy. Edges are kept as id pairs per
layer, in parts per cohort (``EdgeLists``); when a cohort enters each September
only its own edges are generated, and each CSR matrix is rebuilt once, over the
live rows: the old rows copied, merged only where the cohort's ties reach, the
cohort's ties built from sorted keys. In the weekly step
peer exposure is the sparse mat-vec W @ a, W row-normalised per layer and
layer-weighted (school ties in term only, neighbourhood ties weighted up in
the holidays), a the indicator of offending recently; W is stored transposed
so that only the rows of the few people offending recently are read.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse._sparsetools import (  # the kernels behind csr[rows] and csr + csr
    csr_plus_csr,
    csr_row_index,
)

from sim.calendar import WEEKS_PER_YEAR
from sim.params import MAX_WEIGHT, MPS_2009, Params, param
from sim.population import People, age_of

LAYERS = ("school", "neighbourhood", "friendship", "siblings", "gang")


class NetworkParams(Params):
    """How many ties of each kind, and how much each layer weighs in peer influence."""

    school_degree: int = param(
        6,
        unit="classmates",
        basis="assumed",
        ge=0,
        le=50,
        doc="ties within a school year group (Watts-Strogatz ring degree)",
    )
    school_rewire: float = param(
        0.2,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="share of classmate ties rewired across the year group (small world)",
    )
    neighbourhood_degree: float = param(
        3.0,
        unit="ties",
        basis="assumed",
        ge=0,
        le=50,
        doc="mean ties to other young people in the same ward, any age",
    )
    friendship_degree: float = param(
        4.0,
        unit="friends",
        basis="assumed",
        ge=0,
        le=50,
        doc="mean friends; about 70% same school and year, the rest same ward up to 3 years older",
    )
    cross_borough_friends: float = param(
        0.3,
        unit="friends",
        basis="assumed",
        ge=0,
        le=10,
        doc="mean friends of the same age in another borough (areas of several boroughs only)",
    )
    friends_same_school_share: float = param(
        0.7,
        unit="share",
        basis="assumed",
        ge=0,
        le=1,
        doc="friends from the same school and year; the rest from the ward (homophily)",
    )
    gang_tie_probability: float = param(
        0.5,
        unit="probability",
        basis="assumed",
        ge=0,
        le=1,
        doc="chance two members of the same gang are tied (dense within a gang)",
    )
    weight_school: float = param(
        0.5,
        unit="weight",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="weight of classmates in peer exposure (term time only)",
    )
    weight_neighbourhood: float = param(
        0.5,
        unit="weight",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        source=MPS_2009,
        doc="loose neighbourhood associations with criminal role models (para 31)",
    )
    weight_friendship: float = param(
        1.0,
        unit="weight",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="friends are the reference layer (weight 1)",
    )
    weight_siblings: float = param(
        0.5,
        unit="weight",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="older siblings as role models (MPS response para 31)",
    )
    weight_gang: float = param(
        1.0,
        unit="weight",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="fellow gang members, on top of the gang effect itself",
    )
    holiday_neighbourhood_factor: float = param(
        1.5,
        unit="multiplier",
        basis="assumed",
        le=MAX_WEIGHT,
        ge=0,
        doc="neighbourhood ties matter more out of term (holidays, summer evenings)",
    )


def _seed(rng: np.random.Generator) -> int:
    """A seed for a networkx generator, drawn from the model's network stream."""
    return int(rng.integers(0, 2**31 - 1))


def gnp_pairs(
    n: int, p: float, seed: int, legacy: np.random.RandomState | None = None
) -> np.ndarray:
    """The edges of ``networkx.gnp_random_graph(n, p, seed=seed)``, in its order, as pairs.

    The same draws (Python's ``random.Random(seed)``, one per pair i < j in
    lexicographic order, kept if below p) without building a graph, which cost
    more than the rest of a September's gang ties. ``legacy``: a generator to reseed
    for the draws, for a caller drawing many graphs (a new one costs ~0.1 ms more: it
    is first seeded from the operating system's entropy).
    """
    if p <= 0 or n < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = n * (n - 1) // 2
    if p < 1:
        # numpy's legacy Mersenne Twister seeded with the array [seed] is Python's
        # random.Random(seed) (both init_by_array on the seed's 32-bit words; seeds here
        # are below 2**31, so one word), and random_sample is random() (the same 53-bit
        # formula): the same draws, made in C (tests/test_network.py checks this).
        legacy = np.random.RandomState(0) if legacy is None else legacy
        legacy.seed([seed])
        k = np.flatnonzero(legacy.random_sample(pairs) < p)
    else:
        k = np.arange(pairs)
    # The k-th pair in lexicographic order: row i's pairs (i, i+1 .. n-1) start at
    # first[i] (numpy's triu_indices, without its n x n mask).
    first = np.cumsum(np.r_[0, np.arange(n - 1, 0, -1)])
    i = np.searchsorted(first, k, side="right") - 1
    return np.column_stack([i, k - first[i] + i + 1]).astype(np.int64)


def stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")``, faster for integer keys (wards, schools, families).

    A stable order is unique, so any way to reach it gives the same permutation. Keys
    within the int16 range are sorted as int16 (numpy radix-sorts 16-bit integers, about
    6 times faster than its stable sort of int64 over London's million live people).
    Other integer keys are packed with their position, ``(key - min) << bits | position``,
    when both fit in 63 bits: the packed values are distinct, so numpy's vectorised sort
    (not stable, but ~10 times faster than its stable one) puts equal keys in position
    order, and the low bits read off the order.
    """
    keys = np.asarray(keys)
    if keys.dtype.kind not in "iu" or keys.size == 0:
        return np.argsort(keys, kind="stable")
    low, high = int(keys.min()), int(keys.max())
    if np.iinfo(np.int16).min <= low and high <= np.iinfo(np.int16).max:
        return np.argsort(keys.astype(np.int16), kind="stable")
    bits = int(keys.size - 1).bit_length()
    if (high - low).bit_length() + bits > 62 or high > np.iinfo(np.int64).max:
        return np.argsort(keys, kind="stable")
    packed = ((keys.astype(np.int64) - low) << bits) | np.arange(keys.size)
    packed.sort()
    return packed & ((1 << bits) - 1)


def _searchsorted(
    a: np.ndarray, v: np.ndarray, side: str, order: np.ndarray | None = None
) -> np.ndarray:
    """``np.searchsorted(a, v, side)``, searching ``v`` in sorted order: each search starts
    near the last, so a cohort's 100,000 searches in London's million live rows stay in
    cache (3 times faster), and the answers are the same. ``order``: an order that sorts
    ``v``, if the caller has one (any order gives the same answers; a sorting one is fast).
    """
    if order is None:
        order = stable_order(v)
    out = np.empty(v.size, dtype=np.intp)
    out[order] = np.searchsorted(a, v[order], side=side)
    return out


def _groups(keys: np.ndarray, ids: np.ndarray) -> list[np.ndarray]:
    """Split ``ids`` into groups with equal ``keys`` (order-stable)."""
    order = stable_order(keys)
    k = keys[order]
    cuts = np.flatnonzero(k[1:] != k[:-1]) + 1
    return np.split(ids[order], cuts)


def _group_layout(keys: np.ndarray, ids: np.ndarray):
    """Members sorted by group, each member's group index, group sizes and starts."""
    order = stable_order(keys)
    members = ids[order]
    k = keys[order]
    first = np.r_[True, k[1:] != k[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    sizes = np.diff(np.r_[starts, k.size])
    return members, group, sizes, starts


def watts_strogatz_groups(
    keys: np.ndarray, ids: np.ndarray, degree: int, rewire: float, rng: np.random.Generator
) -> np.ndarray:
    """A Watts-Strogatz small world within each group of equal ``keys``, all groups at once.

    As ``networkx.watts_strogatz_graph(n, k, p)``: a ring where each member is
    tied to its k/2 nearest on each side (k capped at the group size less
    one, made even), then each tie's far end is rewired with probability p to
    a random other member of the group. Rewiring may, rarely, repeat a tie;
    a repeated tie counts as a stronger one.
    """
    if ids.size == 0 or degree < 2:
        return np.empty((0, 2), dtype=np.int64)
    members, group, sizes, starts = _group_layout(keys, ids)
    local = np.arange(members.size) - starts[group]
    size = sizes[group]
    half = np.minimum(degree, size - 1) // 2  # per member, from its group's size
    parts = []
    for d in range(1, degree // 2 + 1):  # a loop over ring distances, not people
        ok = (half >= d) & (size >= 3)
        src = np.flatnonzero(ok)
        tgt_local = (local[src] + d) % size[src]
        rewired = rng.random(src.size) < rewire
        r = (rng.random(src.size) * (size[src] - 1)).astype(np.int64)
        r += r >= local[src]  # any member but oneself
        tgt_local = np.where(rewired, r, tgt_local)
        parts.append(np.column_stack([members[src], members[starts[group[src]] + tgt_local]]))
    return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)


def gnp_groups(
    keys: np.ndarray, ids: np.ndarray, mean_degree: float, rng: np.random.Generator
) -> np.ndarray:
    """Erdos-Renyi G(n, p) within each group of equal ``keys``, p = mean_degree / (n - 1).

    The number of ties in a group is Binomial(n(n-1)/2, p), as in
    ``networkx.fast_gnp_random_graph``; the pairs are then drawn uniformly
    (a pair drawn twice, rare at these densities, counts as a stronger tie).
    """
    if ids.size == 0 or mean_degree <= 0:
        return np.empty((0, 2), dtype=np.int64)
    members, _, sizes, starts = _group_layout(keys, ids)
    pairs = sizes * (sizes - 1) // 2
    prob = np.minimum(1.0, mean_degree / np.maximum(sizes - 1, 1))
    m = rng.binomial(pairs, prob)
    g = np.repeat(np.arange(sizes.size), m)
    size = sizes[g]
    u = (rng.random(g.size) * size).astype(np.int64)
    v = (rng.random(g.size) * (size - 1)).astype(np.int64)
    v += v >= u
    return np.column_stack([members[starts[g] + u], members[starts[g] + v]])


def ties_within(
    keys_new: np.ndarray,
    new: np.ndarray,
    keys_pool: np.ndarray,
    pool: np.ndarray,
    mean_degree: float,
    rng: np.random.Generator,
    pool_order: np.ndarray | None = None,
) -> np.ndarray:
    """Poisson(mean_degree) ties from each new person to uniform pool members with their key.

    The bipartite G(n, m, p) model with p = mean_degree / (pool members with the key).
    ``pool_order``: ``stable_order(keys_pool)``, if the caller has it.
    """
    if new.size == 0 or pool.size == 0 or mean_degree <= 0:
        return np.empty((0, 2), dtype=np.int64)
    order = stable_order(keys_pool) if pool_order is None else pool_order
    sorted_keys = keys_pool[order]
    new_order = stable_order(keys_new)
    lo = _searchsorted(sorted_keys, keys_new, "left", new_order)
    count = _searchsorted(sorted_keys, keys_new, "right", new_order) - lo
    k = rng.poisson(mean_degree, new.size) * (count > 0)
    src = np.repeat(new, k)
    pick = np.repeat(lo, k) + (rng.random(src.size) * np.repeat(count, k)).astype(np.int64)
    return np.column_stack([src, pool[order[pick]]])


def ties_to_elders(
    keys_new: np.ndarray,
    birth_new: np.ndarray,
    new: np.ndarray,
    keys_pool: np.ndarray,
    birth_pool: np.ndarray,
    pool: np.ndarray,
    span_weeks: float,
    mean_degree: float,
    rng: np.random.Generator,
    pool_order: np.ndarray | None = None,
) -> np.ndarray:
    """Poisson(mean_degree) ties to pool members with the same key born up to ``span_weeks``
    earlier (older friends in the same ward). ``pool_order``: ``stable_order(keys_pool)``,
    if the caller has it."""
    if new.size == 0 or pool.size == 0 or mean_degree <= 0:
        return np.empty((0, 2), dtype=np.int64)
    # Search on one composite value per person: key first, then birth week
    # (birth weeks span far less than the spacing between keys).
    spacing = 4 * (np.abs(birth_pool).max() + np.abs(birth_new).max() + span_weeks + 1)
    pool_value = keys_pool * spacing + birth_pool
    if _rising(birth_pool):
        # Pool rows in birth order (as the model's rows are): within a key the composite
        # value already rises with the row, so the stable order by key alone is the same.
        order = stable_order(keys_pool) if pool_order is None else pool_order
    else:
        order = np.argsort(pool_value, kind="stable")
    sorted_value = pool_value[order]
    new_value = keys_new * spacing + birth_new
    # One order sorts both searches' values (they differ by a constant); the same holds
    # for the order by key alone when the new are in birth order (as a cohort is).
    new_order = stable_order(keys_new) if _rising(birth_new) else stable_order(new_value)
    lo = _searchsorted(sorted_value, new_value - span_weeks, "left", new_order)
    hi = _searchsorted(sorted_value, new_value, "left", new_order)
    count = hi - lo
    k = rng.poisson(mean_degree, new.size) * (count > 0)
    src = np.repeat(new, k)
    pick = np.repeat(lo, k) + (rng.random(src.size) * np.repeat(count, k)).astype(np.int64)
    return np.column_stack([src, pool[order[pick]]])


def _rising(values: np.ndarray) -> bool:
    """Whether ``values`` never fall from one to the next."""
    return bool(np.all(values[1:] >= values[:-1]))


def _random_ties(a: np.ndarray, b: np.ndarray, mean_degree: float, rng) -> np.ndarray:
    """Poisson(mean_degree) ties from each of ``a`` to uniformly chosen members of ``b``.

    The bipartite G(n, m, p) model with p = mean_degree / |b|, drawn directly
    in numpy: networkx's generator builds every node of ``b`` as a Python
    object, which at borough scale costs more than the rest of a year.
    """
    if a.size == 0 or b.size == 0 or mean_degree <= 0:
        return np.empty((0, 2), dtype=np.int64)
    k = rng.poisson(mean_degree, a.size)
    src = np.repeat(a, k)
    dst = b[rng.integers(0, b.size, src.size)]
    return np.column_stack([src, dst])


class EdgeLists:
    """Each layer's ties as id pairs (an (m, 2) array), in the order they were made.

    ``edges[layer]`` reads a layer, ``edges[layer] = pairs`` replaces it. Kept as parts,
    one per cohort's entry, joined when a layer is read (by the views, the reference
    model and tests; the weekly step reads the matrices): a September then costs its own
    ties only, where joining the lists and dropping leavers' ties from them cost ~0.14 s
    of London's 1.4 s September. Ties between two people who have left are dropped
    (``drop_below``): a part whose newest member has left goes at once, the others are
    filtered when read. The pairs read are those the lists would hold had every
    September joined and filtered them: the same ties, in the same order.
    """

    def __init__(self, layers: tuple[str, ...]) -> None:
        self.parts: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
        self.newest: dict[str, list[int]] = {layer: [] for layer in layers}  # per part
        self.lo = dict.fromkeys(layers, 0)  # ties with both ends below are dropped
        self.clean = dict.fromkeys(layers, True)  # one part, already filtered

    def __getitem__(self, layer: str) -> np.ndarray:
        parts = self.parts[layer]
        if not parts:
            return np.empty((0, 2), dtype=np.int64)
        if not self.clean[layer]:
            lo = self.lo[layer]
            joined = np.concatenate([np.compress(_newer(p) >= lo, p, axis=0) for p in parts])
            self[layer] = joined
        return self.parts[layer][0]

    def __setitem__(self, layer: str, pairs: np.ndarray) -> None:
        self.parts[layer] = [pairs] if pairs.size else []
        self.newest[layer] = [int(pairs.max())] if pairs.size else []
        self.clean[layer] = True

    def add(self, layer: str, pairs: np.ndarray) -> None:
        """Put new ties after the others."""
        if pairs.size:
            self.parts[layer].append(pairs)
            self.newest[layer].append(int(pairs.max()))
            self.clean[layer] = False

    def drop_below(self, layer: str, lo: int) -> None:
        """Drop the ties between two people below row ``lo`` (both have left)."""
        keep = [k for k, newest in enumerate(self.newest[layer]) if newest >= lo]
        self.parts[layer] = [self.parts[layer][k] for k in keep]
        self.newest[layer] = [self.newest[layer][k] for k in keep]
        self.lo[layer] = lo
        self.clean[layer] = False


def _newer(pairs: np.ndarray) -> np.ndarray:
    """The newer (higher) id of each pair."""
    return np.maximum(pairs[:, 0], pairs[:, 1])


class Network:
    """Edge lists per layer, and per-layer adjacency matrices kept up to date incrementally.

    ``adjacency[layer]`` is a symmetric CSR matrix (a tie drawn twice counts
    twice, columns sorted) over all rows ever entered. Each September only the new
    cohort's ties are converted and added (a linear merge, no global re-sort); the
    rows of people who have left are emptied then (live people's ties to them stay,
    never active), and degrees count live ties only.
    """

    def __init__(self, params: NetworkParams, people: People) -> None:
        self.params = params
        self.people = people
        n = people.capacity
        self.edges = EdgeLists(LAYERS)
        self.adjacency: dict[str, sp.csr_matrix] = {
            layer: sp.csr_matrix((n, n)) for layer in LAYERS if layer != "gang"
        }
        self.live_degree: dict[str, np.ndarray] = {
            layer: np.zeros(n) for layer in LAYERS if layer != "gang"
        }
        self._counted_lo = 0  # leavers below this row are already out of live_degree
        self.pupil = np.zeros(n, dtype=bool)  # school ties bind pupils of school age
        self._combined: dict[str, sp.csr_matrix] = {}  # close_ties, acquaintances (lazy)
        self.gang_members = np.empty(0, dtype=np.int64)
        self.gang_matrix: sp.csr_matrix | None = None
        self.gang_adjacency = sp.csr_matrix((n, n))

    # -- building ---------------------------------------------------------
    def new_ties(self, rows: slice, week: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Generate the ties of newly entered people (one cohort), by layer.

        All groups (school-year groups, wards) are generated at once, vectorised.
        """
        p, ppl = self.params, self.people
        new = np.arange(rows.start, rows.stop)
        year_group = np.floor(age_of(ppl.birth_week[new], week)).astype(np.int64)
        school_key = ppl.school[new].astype(np.int64) * 100 + year_group
        # School: a small world within each school and year group.
        school = watts_strogatz_groups(school_key, new, p.school_degree, p.school_rewire, rng)
        # Friendship: most with schoolmates of the same year (homophily by
        # school and age), the rest with young people of the same ward up to
        # three years older (criminal role models, MPS response para 31).
        same = p.friendship_degree * p.friends_same_school_share
        friends = [gnp_groups(school_key, new, same, rng)]
        older = np.arange(ppl.lo, rows.start)
        ward_new = ppl.ward[new].astype(np.int64)
        ward_old = ppl.ward[older].astype(np.int64)
        by_ward = stable_order(ward_old)  # (sorted once for both kinds of ties to elders)
        cross = p.friendship_degree * (1 - p.friends_same_school_share)
        friends.append(
            ties_to_elders(
                ward_new, ppl.birth_week[new], new,
                ward_old, ppl.birth_week[older], older,
                3 * WEEKS_PER_YEAR, cross, rng, by_ward,
            )
        )  # fmt: skip
        if ppl.geography.n_boroughs > 1 and p.cross_borough_friends > 0:
            friends.append(self._cross_borough(new, week, rng))
        # Neighbourhood: ties to young people of any age in the same ward.
        half = p.neighbourhood_degree / 2
        neighbours = [
            gnp_groups(ward_new, new, half, rng),
            ties_within(ward_new, new, ward_old, older, half, rng, by_ward),
        ]
        return {
            "school": school,
            "friendship": np.concatenate(friends),
            "neighbourhood": np.concatenate(neighbours),
            "siblings": self._sibling_ties(rows),
        }

    def _cross_borough(self, new: np.ndarray, week: int, rng: np.random.Generator) -> np.ndarray:
        """Friendships with people of about the same age in other boroughs."""
        ppl = self.people
        pool = np.arange(ppl.lo, ppl.n)
        age = age_of(ppl.birth_week[pool], week)
        new_age = age_of(ppl.birth_week[new], week)
        pool = pool[(age >= new_age.min() - 1) & (age <= new_age.max() + 1)]
        ties = _random_ties(new, pool, self.params.cross_borough_friends, rng)
        return ties[ppl.borough[ties[:, 0]] != ppl.borough[ties[:, 1]]]

    def _sibling_ties(self, rows: slice) -> np.ndarray:
        """Pairs of the new people ``rows`` with everyone live in their family (and each other)."""
        ppl = self.people
        ids = np.arange(ppl.lo, rows.stop)
        family = ppl.family[ids]  # (ids from 0)
        theirs = np.zeros(int(family.max(initial=-1)) + 1, dtype=bool)
        theirs[ppl.family[rows]] = True  # the new people's families
        ids = ids[theirs[family]]
        fam = ppl.family[ids]
        order = stable_order(fam)
        ids, fam = ids[order], fam[order]
        pairs = []
        for lag in range(1, 8):  # families above 8 children aged 9-20 are negligible
            same = fam[lag:] == fam[:-lag]
            if not same.any():
                break
            a, b = ids[:-lag][same], ids[lag:][same]
            new = (a >= rows.start) | (b >= rows.start)
            pairs.append(np.column_stack([a[new], b[new]]))
        return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)

    def build_initial(self, week: int, rng: np.random.Generator) -> None:
        """Ties for the initial population, one single-year cohort at a time (oldest first)."""
        ppl = self.people
        age = np.floor(age_of(ppl.birth_week[: ppl.n], week)).astype(np.int64)
        cohorts = []
        for a in np.unique(age)[::-1]:
            idx = np.flatnonzero(age == a)
            cohorts.append(self.new_ties(slice(int(idx[0]), int(idx[-1]) + 1), week, rng))
        self._add(cohorts, week)

    def add_people(self, rows: slice, week: int, rng: np.random.Generator) -> None:
        """A September cohort enters: generate its ties and add them to the matrices."""
        self._add([self.new_ties(rows, week, rng)], week)

    def _add(self, cohorts: list[dict[str, np.ndarray]], week: int) -> None:
        """Add new ties (each cohort's, by layer) to the edge lists, the matrices and the
        live degrees.

        Those who have left are taken out first (see ``refresh``). Each layer's matrix
        is then rebuilt once, over the live rows only (``lo .. n - 1``: rows below are
        those who have left, whose rows are emptied so, and rows above are empty): the
        live rows of the old matrix plus the new ties'. New ties are between live
        people, so this is the old matrix with leavers' rows emptied, plus the new ties,
        entry for entry; the degrees are whole counts (exact in any order).
        """
        ppl = self.people
        lo, hi, n = ppl.lo, ppl.n, ppl.capacity
        self._drop_leavers(empty_rows=False)
        for layer in self.adjacency:  # every layer rebuilt (fresh arrays), ties or none
            for ties in cohorts:
                self.edges.add(layer, ties[layer])
            e = np.concatenate([ties[layer] for ties in cohorts])
            live = _rows(self.adjacency[layer], lo, hi)  # views: copied by the sum
            self.adjacency[layer] = _embedded(_sum(live, _adjacency_rows(e, lo, hi, n)), lo, n)
            # Both ends of each tie (counts are whole numbers: exact in any order; add.at
            # adds in place, where a bincount would fill and add a window-long array).
            np.add.at(self.live_degree[layer], e.ravel(), 1.0)
        self.refresh(week)

    def rebuild_gangs(self, rng: np.random.Generator) -> None:
        """Dense random ties within each gang, over current members (networkx G(n, p))."""
        ppl = self.people
        live = np.arange(ppl.lo, ppl.n)
        members = live[ppl.gang[live] >= 0]
        parts = []
        p, legacy = self.params.gang_tie_probability, np.random.RandomState(0)  # (reseeded)
        for group in _groups(ppl.gang[members].astype(np.int64), members):  # loop over gangs
            if group.size >= 2:
                parts.append(group[gnp_pairs(group.size, p, _seed(rng), legacy)])
        self.edges["gang"] = np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)
        self.gang_members = members
        local = np.searchsorted(members, self.edges["gang"])  # members rise: their positions
        self.gang_matrix = _normalised(local, members.size)
        self.gang_adjacency = _adjacency(self.edges["gang"], ppl.capacity)
        self._combined.pop("close", None)

    def refresh(self, week: int) -> None:
        """Take those who have left out of live degrees; who is a pupil; forget combined lists."""
        ppl = self.people
        self._drop_leavers(empty_rows=True)
        # School ties only bind pupils of compulsory school age (under 16 at the
        # start of the academic year, DfE); classmates leave school together.
        self.pupil = np.zeros(ppl.capacity, dtype=bool)  # (no one else is a pupil)
        self.pupil[ppl.live] = age_of(ppl.birth_week[ppl.live], week) < 16
        self._combined = {}

    def _drop_leavers(self, empty_rows: bool) -> None:
        """Take those who have left since the last call out of the live degrees and the
        edge lists and, with ``empty_rows``, empty their matrix rows (copies; ``_add``
        leaves them out as it rebuilds the matrices)."""
        ppl = self.people
        if self._counted_lo == ppl.lo:
            return
        for layer, a in list(self.adjacency.items()):
            leavers = slice(a.indptr[self._counted_lo], a.indptr[ppl.lo])  # their rows' ties
            np.subtract.at(self.live_degree[layer], a.indices[leavers], a.data[leavers])
            # Nothing reads the rows of those who have left again (only live people are
            # active, offend or are searched from): empty them, so the matrices, the
            # peer shares and next September's merge hold live rows only. Ties between
            # two leavers go from the edge lists too.
            if empty_rows:
                self.adjacency[layer] = _without_rows_below(a, ppl.lo)
            self.edges.drop_below(layer, ppl.lo)
        self._counted_lo = ppl.lo

    @property
    def close_ties(self) -> sp.csr_matrix:
        """Friends, siblings and fellow gang members in one symmetric CSR (built on demand)."""
        if "close" not in self._combined:
            a = self.adjacency
            self._combined["close"] = (
                a["friendship"] + a["siblings"] + self.gang_adjacency
            ).tocsr()
        return self._combined["close"]

    def close_ties_of(self, people: np.ndarray) -> np.ndarray:
        """Everyone tied to any of ``people`` in ``close_ties`` (with repeats; row order)."""
        return _row_entries(self.close_ties, people)[0]

    @property
    def acquaintances(self) -> sp.csr_matrix:
        """Schoolmates and neighbours in one symmetric CSR (built on demand)."""
        if "acquaintances" not in self._combined:
            a = self.adjacency
            self._combined["acquaintances"] = (a["school"] + a["neighbourhood"]).tocsr()
        return self._combined["acquaintances"]

    def ties_of(self, people: np.ndarray, layers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Every tie of ``people`` in ``layers`` (adjacency layers), layer by layer: for
        each, its position in ``people`` and the person at its other end (with repeats).

        Read from the CSR arrays by the compiled row gather, without building the
        matrix of the rows (``adjacency[layer][people]``, whose indexing costs ~0.8 ms a
        call in scipy's checks at a fit's size)."""
        owners, others = [], []
        people = np.asarray(people, dtype=np.int64)
        for layer in layers:
            a = self.adjacency[layer]
            cols, weight = _row_entries(a, people)
            lengths = a.indptr[people + 1] - a.indptr[people]
            owner = np.repeat(np.arange(people.size), lengths)
            tie = weight > 0  # (a stored zero is no tie, as in a product with the matrix)
            owners.append(owner[tie])
            others.append(cols[tie])
        return np.concatenate(owners), np.concatenate(others)

    def ties_to(self, members: np.ndarray) -> np.ndarray:
        """For everyone, the number of ties (any layer but gang) to ``members`` (a few people)."""
        out = np.zeros(self.people.capacity)
        for a in self.adjacency.values():
            np.add.at(out, *_row_entries(a, members))  # (whole counts: exact in any order)
        return out

    # -- the weekly step ----------------------------------------------------
    def peer_exposure(self, active: np.ndarray, term: bool) -> np.ndarray:
        """Weighted share of live ties who offended recently (full-capacity vector).

        ``active`` holds the ids of people who offended recently and are at
        liberty. For each layer, the share of a person's live ties who are
        active, times the layer's weight (school ties in term time and
        between pupils only; neighbourhood ties weighted up in the holidays),
        summed; plus the gang term, worked out every week.

        The layers' part is kept from week to week and updated from the rows of
        those who became active or stopped being active (a few hundred a week,
        against thousands active): it is linear in who is active, and the ties'
        shares are fixed between ``refresh`` calls. It is gathered afresh after a
        ``refresh`` (each September) and whenever term starts or ends (the
        weights change). Sums that come back to nothing are set to exactly 0.
        The gang term is added to the kept vector and taken off again next week,
        so the vector returned is that kept vector: valid until the next call.
        """
        p, n = self.params, self.people.capacity
        on = np.zeros(n, dtype=bool)
        on[active] = True
        state = self._combined.get("exposure")
        if state is None or state[0] != term:
            base = self._gather_exposure(active, term)
        else:
            base, was, g, add = state[1:]
            base[g] -= add  # last week's gang term
            base[g[np.abs(base[g]) < 1e-9]] = 0.0
            # Only rows from the last refresh's window start to the last entrant can
            # differ (the active are live): a third of London's capacity.
            c, m = self._counted_lo, self.people.n
            changed = np.flatnonzero(on[c:m] != was[c:m]) + c
            if changed.size:
                up = on[changed]
                self._update_exposure(base, changed[up], changed[~up], term)
        g, add = np.empty(0, dtype=np.int64), np.empty(0)
        if self.gang_members.size and self.gang_matrix is not None:
            g = self.gang_members
            still = (self.people.gang[g] >= 0).astype(float)
            add = p.weight_gang * still * (self.gang_matrix @ (on[g] * still))
            base[g] += add
        self._combined["exposure"] = (term, base, on, g, add)
        return base

    def _exposure_weights(self, term: bool) -> dict[str, float]:
        p = self.params
        weights = {
            "friendship": p.weight_friendship,
            "siblings": p.weight_siblings,
            "neighbourhood": p.weight_neighbourhood
            * (1.0 if term else p.holiday_neighbourhood_factor),
        }
        if term:
            weights["school"] = p.weight_school
        return weights

    def _gather_exposure(self, active: np.ndarray, term: bool) -> np.ndarray:
        """The layers' part of peer exposure from all active people's ties (the mat-vec
        W @ a from the active rows only)."""
        receivers, values = [], []
        for layer, w in self._exposure_weights(term).items():
            rows = active[self.pupil[active]] if layer == "school" else active
            cols, shares = self._peer_shares(layer, rows)
            shares *= w
            receivers.append(cols)
            values.append(shares)
        return np.bincount(
            np.concatenate(receivers), np.concatenate(values), minlength=self.people.capacity
        ).astype(np.float64, copy=False)  # an empty input would give integers

    def _update_exposure(
        self, base: np.ndarray, up: np.ndarray, down: np.ndarray, term: bool
    ) -> None:
        """Add the ties of those now active to ``base``, take off those no longer active."""
        receivers, values = [], []
        for layer, w in self._exposure_weights(term).items():
            u, d = (up[self.pupil[up]], down[self.pupil[down]]) if layer == "school" else (up, down)
            a = self.adjacency[layer]
            cols, shares = self._peer_shares(layer, np.concatenate([u, d]))
            n_up = int((a.indptr[u + 1] - a.indptr[u]).sum())
            shares[:n_up] *= w
            shares[n_up:] *= -w
            receivers.append(cols)
            values.append(shares)
        cols = np.concatenate(receivers)
        np.add.at(base, cols, np.concatenate(values))
        left = base[cols]
        base[cols[np.abs(left) < 1e-9]] = 0.0  # rounding left over from a share taken off

    def _peer_shares(self, layer: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ties of ``rows`` in ``layer`` (their columns, in row order) and each tie's
        share in peer exposure before the layer's weight, ``ties / the receiver's live
        degree``.

        Worked out for the rows gathered only (a few thousand after a September, a
        few hundred a week), not for every tie each September: the live degrees and
        who is a pupil change only in ``refresh``, so a tie's share is the same number
        whenever it is worked out. School ties to someone who is not a pupil count 0
        (adding 0 changes no sum). Those who have left are never gathered (their rows
        are empty).
        """
        cols, shares = _row_entries(self.adjacency[layer], rows)
        with np.errstate(divide="ignore", invalid="ignore"):  # ties to leavers only
            np.divide(shares, self.live_degree[layer][cols], out=shares)
        if layer == "school":
            shares[~self.pupil[cols]] = 0.0
        return cols, shares

    def random_partner(self, people: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One random friend, sibling or fellow gang member of each person (-1 if none).

        ``u``: one uniform per person (the caller's stream decides which).
        """
        a = self.adjacency
        layers = (a["friendship"], a["siblings"], self.gang_adjacency)
        return self._live(_random_neighbour_of_layers(layers, people, u))

    def random_acquaintance(self, people: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One random schoolmate (pupils only) or neighbour of each person (-1 if none)."""
        a = self.adjacency
        use = (self.pupil[people], np.ones(people.size, dtype=bool))
        return self._live(
            _random_neighbour_of_layers((a["school"], a["neighbourhood"]), people, u, use)
        )

    def random_gang_tie(self, people: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The gang of a random close tie or acquaintance who is a member (-1 if none found).

        ``u``: two uniforms per person, shape (2, len(people)).
        """
        gang = self.people.gang
        a = self.random_partner(people, u[0])
        b = self.random_acquaintance(people, u[1])
        ga = np.where(a >= 0, gang[np.maximum(a, 0)], -1)
        gb = np.where(b >= 0, gang[np.maximum(b, 0)], -1)
        return np.where(ga >= 0, ga, gb)

    def _live(self, ids: np.ndarray) -> np.ndarray:
        """-1 for a tie to someone who has left (aged 21)."""
        return np.where(ids >= self.people.lo, ids, -1)

    # -- views --------------------------------------------------------------
    def neighbours(self, person: int, layer: str) -> np.ndarray:
        """Ids of live people tied to ``person`` in ``layer`` (views and viz, not the step)."""
        e = self.edges[layer]
        if e.size == 0:
            return np.empty(0, dtype=np.int64)
        ids = np.unique(np.concatenate([e[e[:, 0] == person, 1], e[e[:, 1] == person, 0]]))
        return ids[ids >= self.people.lo]

    def graph(self, ids: np.ndarray, layers: tuple[str, ...] = LAYERS) -> nx.Graph:
        """A networkx graph of the given people and the ties among them (viz, export)."""
        keep = np.zeros(self.people.capacity, dtype=bool)
        keep[ids] = True
        g = nx.Graph()
        g.add_nodes_from(int(i) for i in ids)
        for layer in layers:
            e = self.edges[layer]
            if e.size:
                sel = e[keep[e[:, 0]] & keep[e[:, 1]]]
                g.add_edges_from(((int(a), int(b), {"layer": layer}) for a, b in sel))
        return g


def _normalised(edges: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric adjacency with each row divided by its degree (so A @ x is a share)."""
    if edges.size == 0:
        return sp.csr_matrix((n, n))
    a = _adjacency(edges, n)
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    return sp.diags(inv) @ a


def _without_rows_below(m: sp.csr_matrix, lo: int) -> sp.csr_matrix:
    """``m`` with rows ``0 .. lo-1`` emptied (the other rows' entries as they were, copied)."""
    if int(m.indptr[lo]) == 0:
        return m
    return _embedded(_rows(m, lo, m.shape[0]).copy(), lo, m.shape[0])


def _rows(m: sp.csr_matrix, lo: int, hi: int) -> sp.csr_matrix:
    """Rows ``lo .. hi-1`` of ``m`` as an (hi - lo)-row CSR whose entries are views of m's."""
    first, last = int(m.indptr[lo]), int(m.indptr[hi])
    return sp.csr_matrix(
        (m.data[first:last], m.indices[first:last], m.indptr[lo : hi + 1] - first),
        shape=(hi - lo, m.shape[1]),
        copy=False,
    )


def _embedded(rows: sp.csr_matrix, lo: int, n_rows: int) -> sp.csr_matrix:
    """``rows`` as rows ``lo ..`` of an ``n_rows``-row CSR, the other rows empty (its
    entries are rows' own arrays; only the row pointers are new)."""
    hi = lo + rows.shape[0]
    indptr = np.empty(n_rows + 1, dtype=rows.indptr.dtype)
    indptr[:lo] = 0
    indptr[lo : hi + 1] = rows.indptr
    indptr[hi + 1 :] = rows.indptr[-1]
    return sp.csr_matrix(
        (rows.data, rows.indices, indptr), shape=(n_rows, rows.shape[1]), copy=False
    )


def _sum(a: sp.csr_matrix, b: sp.csr_matrix) -> sp.csr_matrix:
    """``a + b`` for canonical CSR matrices (sorted columns, no repeats), in fresh arrays.

    The rows before b's first entry are a's: their entries are copied as they are, and
    only the rest are merged row by row (scipy's kernel, as ``a + b`` runs it); when a
    has no entries there, b's entries are put after a's. A cohort's school ties are all
    in its own rows (the last) and its friendships reach three years up: copying the
    rows they do not reach takes a fraction of merging them (London: 40 -> 15 ms for the
    school layer, 46 -> 30 ms for friendship).
    """
    # b's first row with ties (searched in indptr's own type: a Python 0 would make numpy
    # convert the whole row-pointer array first)
    first = int(np.searchsorted(b.indptr, b.indptr.dtype.type(0), side="right")) - 1
    split = int(a.indptr[first])  # a's entries before it
    if split == a.nnz:
        return sp.csr_matrix(
            (np.concatenate([a.data, b.data]), np.concatenate([a.indices, b.indices]),
             a.indptr + b.indptr),
            shape=a.shape,
            copy=False,
        )  # fmt: skip
    most = a.nnz + b.nnz  # (fewer if a tie were in both: summed)
    indptr = np.empty_like(a.indptr)
    indices, data = np.empty(most, dtype=a.indices.dtype), np.empty(most)
    indptr[: first + 1] = a.indptr[: first + 1]
    indices[:split], data[:split] = a.indices[:split], a.data[:split]
    # (the kernel reads entries where the row pointers say, and writes its own from 0)
    csr_plus_csr(
        a.shape[0] - first, a.shape[1],
        a.indptr[first:], a.indices, a.data,
        b.indptr[first:], b.indices, b.data,
        indptr[first:], indices[split:], data[split:],
    )  # fmt: skip
    indptr[first:] += split
    nnz = int(indptr[-1])
    if nnz < most:
        data, indices = data[:nnz].copy(), indices[:nnz].copy()
    return sp.csr_matrix((data, indices, indptr), shape=a.shape, copy=False)


def _row_entries(
    m: sp.csr_matrix, rows: np.ndarray, data: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the given rows of a CSR matrix, concatenated (vectorised).

    ``data``: values to read instead of the matrix's own (aligned with its entries).
    Gathered by scipy's compiled row-indexing kernel (what ``m[rows]`` runs, without
    building a matrix: a third of the time of gathering in numpy at these sizes).
    """
    data = m.data if data is None else data
    indptr = m.indptr
    rows = np.asarray(rows).astype(indptr.dtype, copy=False)
    lengths = indptr[rows + 1] - indptr[rows]
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=data.dtype)
    cols = np.empty(total, dtype=m.indices.dtype)
    vals = np.empty(total, dtype=data.dtype)
    csr_row_index(rows.size, rows, indptr, m.indices, data, cols, vals)
    return cols.astype(np.int64), vals


def _adjacency(edges: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric adjacency in CSR (row i lists i's ties; a tie drawn twice counts 2)."""
    if edges.size == 0:
        return sp.csr_matrix((n, n))
    lo = int(edges.min())  # (the rows before are empty)
    return _embedded(_adjacency_rows(edges, lo, int(edges.max()) + 1, n), lo, n)


def _adjacency_rows(edges: np.ndarray, lo: int, hi: int, n: int) -> sp.csr_matrix:
    """Rows ``lo .. hi-1`` of ``_adjacency(edges, n)``, every tie's ends among them, as an
    (hi - lo)-row CSR in canonical form (sorted columns, a repeated tie summed), as
    scipy builds it from coordinates.

    Built from one sorted key per entry, ``row << bits | column`` (row-major order):
    numpy's vectorised sort of the keys takes a fifth of the time of scipy's conversion,
    sorting and summing, which each pass over every row (a third of London's capacity).
    """
    bits = max(int(n - 1).bit_length(), 1)  # a column fits in the key's low bits
    a, b = edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64)
    keys = np.concatenate([(a << bits) | b, (b << bits) | a])
    keys.sort()
    first = np.empty(keys.size, dtype=bool)  # the first entry of each (row, column)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=keys.size).astype(np.float64)  # ties drawn twice: 2
    keys = keys[starts]
    index = np.int32 if max(n, hi - lo, keys.size) <= np.iinfo(np.int32).max else np.int64
    cols = (keys & ((1 << bits) - 1)).astype(index)
    rows = keys >> bits
    # Entries counted from the lowest row reached (the rows below are empty: a cohort's
    # school ties, for one, reach its own rows only).
    low = int(rows[0]) if rows.size else hi
    indptr = np.zeros(hi - lo + 1, dtype=index)
    np.cumsum(np.bincount(rows - low, minlength=hi - low), out=indptr[low - lo + 1 :])
    return sp.csr_matrix((counts, cols, indptr), shape=(hi - lo, n), copy=False)


def _random_neighbour_of_layers(
    layers: tuple[sp.csr_matrix, ...],
    people: np.ndarray,
    u: np.ndarray,
    use: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """One tie picked uniformly among all of a person's ties in several layers (-1 if none).

    Same as picking from the layers' sum, without building it: a layer is chosen
    in proportion to the person's ties in it, then a tie within it. ``use`` may
    switch a layer off for some people (a mask per layer over ``people``); ``u`` holds
    one uniform per person.
    """
    if people.size == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.stack([m.indptr[people] for m in layers])
    degree = np.stack([m.indptr[people + 1] for m in layers]) - starts
    if use is not None:
        degree *= np.stack(use)
    total = degree.sum(axis=0)
    pos = np.minimum((u * total).astype(np.int64), np.maximum(total - 1, 0))
    out = np.full(people.size, -1, dtype=np.int64)
    before = np.zeros(people.size, dtype=np.int64)
    for k, m in enumerate(layers):  # a loop over layers
        here = (pos >= before) & (pos < before + degree[k]) & (total > 0)
        out[here] = m.indices[starts[k][here] + pos[here] - before[here]]
        before += degree[k]
    return out
