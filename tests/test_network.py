"""The network: vectorised generators against networkx's, and peer exposure against W @ a."""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from conftest import small

from sim.model import YouthJusticeModel
from sim.network import (
    EdgeLists,
    _adjacency_rows,
    _row_entries,
    _sum,
    gnp_groups,
    gnp_pairs,
    stable_order,
    ties_to_elders,
    watts_strogatz_groups,
)


def _graph(edges: np.ndarray, n: int) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(map(tuple, edges))
    return g


def test_watts_strogatz_groups_match_networkx():
    rng = np.random.default_rng(1)
    n, k, p = 200, 6, 0.2
    ours_c, theirs_c, ours_e = [], [], []
    for seed in range(20):
        e = watts_strogatz_groups(np.zeros(n, dtype=int), np.arange(n), k, p, rng)
        g = _graph(e, n)
        ours_c.append(nx.average_clustering(g))
        ours_e.append(g.number_of_edges())
        theirs_c.append(nx.average_clustering(nx.watts_strogatz_graph(n, k, p, seed=seed)))
    assert abs(np.mean(ours_c) - np.mean(theirs_c)) < 0.03
    assert np.mean(ours_e) > 0.98 * n * k / 2  # rewiring rarely repeats a tie
    # Groups never mix: ties stay within their group.
    keys = np.repeat([0, 1, 2], 50)
    e = watts_strogatz_groups(keys, np.arange(150), k, p, rng)
    assert np.all(keys[e[:, 0]] == keys[e[:, 1]])
    assert np.all(e[:, 0] != e[:, 1])


def test_gnp_groups_match_networkx_edge_counts():
    rng = np.random.default_rng(2)
    n, mean_degree = 120, 4.0
    ours = [
        gnp_groups(np.zeros(n, int), np.arange(n), mean_degree, rng).shape[0] for _ in range(200)
    ]
    p = mean_degree / (n - 1)
    theirs = [nx.fast_gnp_random_graph(n, p, seed=s).number_of_edges() for s in range(200)]
    expected = n * (n - 1) / 2 * p
    assert abs(np.mean(ours) - expected) < 0.03 * expected
    assert abs(np.std(ours) - np.std(theirs)) < 0.25 * np.std(theirs)


def test_ties_to_elders_only_reach_older_people_of_the_same_key():
    rng = np.random.default_rng(3)
    pool = np.arange(1000)
    keys_pool = rng.integers(0, 5, 1000)
    birth_pool = rng.uniform(-500, 0, 1000)
    new = np.arange(1000, 1100)
    keys_new = rng.integers(0, 5, 100)
    birth_new = rng.uniform(-200, 0, 100)
    e = ties_to_elders(keys_new, birth_new, new, keys_pool, birth_pool, pool, 156, 3.0, rng)
    assert e.shape[0] > 100
    i = e[:, 0] - 1000
    assert np.all(keys_pool[e[:, 1]] == keys_new[i])
    age_gap = birth_new[i] - birth_pool[e[:, 1]]
    assert np.all((age_gap > 0) & (age_gap <= 156))


def test_row_entries_sum_to_the_rows_column_sums():
    rng = np.random.default_rng(4)
    m = sp.random(300, 300, density=0.05, format="csr", random_state=5)
    rows = rng.choice(300, 40, replace=False)
    expected = np.asarray(m[rows].sum(axis=0)).ravel()
    cols, values = _row_entries(m, rows)
    assert np.allclose(np.bincount(cols, values, minlength=300), expected)


def test_adjacency_rows_are_scipys_canonical_matrix():
    """The rows built from sorted keys are scipy's matrix built from coordinates, array for
    array: ties counted twice when drawn twice, columns sorted, the same index types."""
    rng = np.random.default_rng(7)
    n = 5000
    for lo, hi, m in ((0, n, 3000), (1200, 4000, 2000), (3990, 4000, 60), (100, 200, 0)):
        edges = rng.integers(lo, hi, (m, 2))
        edges[: m // 10] = edges[m // 10 : 2 * (m // 10)]  # repeated ties
        rows = np.concatenate([edges[:, 0], edges[:, 1]]) - lo
        cols = np.concatenate([edges[:, 1], edges[:, 0]])
        want = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(hi - lo, n))
        got = _adjacency_rows(edges, lo, hi, n)
        assert got.shape == want.shape
        for name in ("data", "indices", "indptr"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


def _share(net, layer: str, a: np.ndarray) -> np.ndarray:
    """Dense reference: share of a person's ties in ``layer`` who are active."""
    e = net.edges[layer]
    src = np.r_[e[:, 0], e[:, 1]]
    dst = np.r_[e[:, 1], e[:, 0]]
    deg = np.bincount(src, minlength=a.size)
    hits = np.bincount(src, weights=a[dst], minlength=a.size)
    return np.divide(hits, deg, out=np.zeros(a.size), where=deg > 0)


def test_peer_exposure_is_the_weighted_share_of_active_ties():
    m = YouthJusticeModel(scenario=small(population=1500))
    net, ppl, p = m.network, m.people, m.network.params
    rng = np.random.default_rng(6)
    active = np.sort(rng.choice(np.arange(ppl.lo, ppl.n), 120, replace=False))
    a = np.zeros(ppl.capacity)
    a[active] = 1.0
    gang = np.zeros(ppl.capacity)
    g = net.gang_members
    gang[g] = p.weight_gang * (net.gang_matrix @ a[g])
    holiday = (
        p.weight_friendship * _share(net, "friendship", a)
        + p.weight_siblings * _share(net, "siblings", a)
        + p.weight_neighbourhood * p.holiday_neighbourhood_factor * _share(net, "neighbourhood", a)
        + gang
    )
    assert np.allclose(net.peer_exposure(active, term=False), holiday)
    # In term, school ties between pupils under 16 count too, neighbourhood ties at weight 1.
    age = (0 - ppl.birth_week) / 52
    e = net.edges["school"]
    pupils = np.nan_to_num(age, nan=99) < 16
    net.edges["school"] = e[pupils[e[:, 0]] & pupils[e[:, 1]]]
    term = (
        holiday
        + p.weight_neighbourhood
        * (1 - p.holiday_neighbourhood_factor)
        * _share(net, "neighbourhood", a)
        + p.weight_school * _share(net, "school", a)
    )
    net.edges["school"] = e
    assert np.allclose(net.peer_exposure(active, term=True), term)


def test_gang_ties_are_networkx_gnp_edge_for_edge():
    """gnp_pairs replays networkx.gnp_random_graph's draws: the same edges in the same order,
    with a fresh generator or one generator reseeded for graph after graph."""
    legacy = np.random.RandomState(0)
    for n in (0, 1, 2, 7, 30, 61):
        for p in (0.0, 0.3, 0.5, 1.0):
            for seed in (0, 5, 2**31 - 2):
                g = nx.gnp_random_graph(n, p, seed=seed)
                expected = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2)
                np.testing.assert_array_equal(gnp_pairs(n, p, seed), expected)
                np.testing.assert_array_equal(gnp_pairs(n, p, seed, legacy), expected)


def test_stable_order_is_numpy_stable_argsort():
    """The int16 and packed fast paths give numpy's stable order; other keys fall back to it."""
    rng = np.random.default_rng(3)
    for keys in (
        rng.integers(0, 600, 5000),  # wards: the int16 path
        rng.integers(-(2**15), 2**15, 5000),  # the int16 range's ends
        rng.integers(-40_000, 40_000, 5000),  # beyond int16: packed with positions
        rng.integers(0, 60_000, 5000).astype(np.uint32),
        rng.integers(-(2**40), 2**40, 5000),  # packed, up to the 62 bits
        rng.integers(-(2**62), 2**62, 5000),  # too wide to pack: numpy's own sort
        np.array([2**63 + 5, 2**63 + 1, 2**63 + 5], dtype=np.uint64),  # beyond int64
        np.array([2**15, 1, 2**15, 0]),
        np.array([7]),
        rng.random(100),
        np.empty(0, dtype=np.int64),
    ):
        np.testing.assert_array_equal(stable_order(keys), np.argsort(keys, kind="stable"))


def test_leavers_rows_emptied_and_live_rows_kept():
    """After Septembers, no matrix row of anyone who has left holds a tie, and every live
    row is the row the kept edge list gives: no live person's tie is lost."""
    model = YouthJusticeModel(scenario=small(years=2, burn_in=0))
    for _ in range(2 * 52 + 1):  # two Septembers with leavers
        model.step()
    net, lo = model.network, model.network._counted_lo
    assert lo > 0
    n = model.people.capacity
    for layer, a in net.adjacency.items():
        assert a.indptr[lo] == 0
        e = net.edges[layer]
        assert (np.maximum(e[:, 0], e[:, 1]) >= lo).all()
        rows = np.concatenate([e[:, 0], e[:, 1]])
        cols = np.concatenate([e[:, 1], e[:, 0]])
        full = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
        full.sum_duplicates()
        live = slice(lo, n)
        assert (a[live] != full[live]).nnz == 0


def test_peer_shares_of_gathered_rows_are_each_ties_share_of_the_live_degree():
    """The shares worked out for the rows gathered are, to the bit, every live tie's
    ``ties / the receiver's live degree`` worked out for the whole matrix at once (school
    ties to non-pupils 0), after Septembers; and the merged matrices own their arrays
    (no views of the matrices they replaced, which a snapshot could not keep)."""
    model = YouthJusticeModel(scenario=small(years=2, burn_in=0))
    for _ in range(2 * 52):
        model.step()
    before = dict(model.network.adjacency)
    model.step()  # the second September with leavers
    net, ppl = model.network, model.people
    assert net._counted_lo > 0
    rows = np.arange(ppl.lo, ppl.n)
    for layer, a in net.adjacency.items():
        old = before[layer]
        assert a is not old
        assert not np.shares_memory(a.data, old.data)
        assert not np.shares_memory(a.indices, old.indices)
        with np.errstate(divide="ignore", invalid="ignore"):
            want = a.data / net.live_degree[layer][a.indices]
        if layer == "school":
            want[~net.pupil[a.indices]] = 0.0
        pick = rows[::7]
        cols, shares = net._peer_shares(layer, pick)
        got_cols, got = [], []
        for r in pick:
            got_cols.append(a.indices[a.indptr[r] : a.indptr[r + 1]])
            got.append(want[a.indptr[r] : a.indptr[r + 1]])
        np.testing.assert_array_equal(cols, np.concatenate(got_cols))
        assert shares.tobytes() == np.concatenate(got).tobytes()


def test_sum_is_scipys_sum_array_for_array():
    """The sum that copies the rows before b's first entry is scipy's ``a + b``: the same
    arrays, in fresh memory; also when b has no entries, or entries in a's rows."""
    rng = np.random.default_rng(8)
    n = 400
    a = sp.random(n, n, density=0.03, format="csr", random_state=9)
    a.data[:] = rng.integers(1, 3, a.nnz)
    for b_rows in ((300, 400), (0, 400), (399, 400), (10, 20), None):
        b = sp.random(n, n, density=0.05, format="csr", random_state=10)
        if b_rows is None:
            b = sp.csr_matrix((n, n))
        else:
            b = sp.csr_matrix(b.multiply(np.isin(np.arange(n), np.arange(*b_rows))[:, None]))
        b.sum_duplicates()
        want, got = a + b, _sum(a, b)
        for name in ("data", "indices", "indptr"):
            x, y = getattr(got, name), getattr(want, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (b_rows, name)
            assert not np.shares_memory(x, getattr(a, name))


def test_edge_lists_read_as_lists_joined_and_filtered_every_september():
    """Edge lists kept as parts and joined when read give, at every read, the pairs and the
    order of lists joined and filtered every September (the reference model replays ties in
    that order); a part whose newest member has left is dropped at once."""
    rng = np.random.default_rng(11)
    lists, eager = EdgeLists(("a", "b")), np.empty((0, 2), dtype=np.int64)
    lo, stop = 0, 0
    for september in range(12):
        lo = max(lo, stop - 400) + int(rng.integers(0, 60))  # some leave
        eager = eager[np.maximum(eager[:, 0], eager[:, 1]) >= lo]
        lists.drop_below("a", lo)
        start, stop = stop, stop + 100
        new = np.column_stack([rng.integers(start, stop, 150), rng.integers(lo, stop, 150)])
        eager = np.concatenate([eager, new])
        lists.add("a", new)
        assert all(part.max() >= lo for part in lists.parts["a"])
        if september % 3 == 2:  # read now and then (joined, then kept joined)
            np.testing.assert_array_equal(lists["a"], eager)
            assert len(lists.parts["a"]) == 1
    np.testing.assert_array_equal(lists["a"], eager)
    lists["a"] = eager[:5]  # a layer set is read back as it was set
    np.testing.assert_array_equal(lists["a"], eager[:5])
    assert lists["b"].shape == (0, 2)  # a layer with no ties


def test_ties_of_lists_each_persons_ties_as_the_matrix_rows_hold_them():
    """ties_of gives, for each person asked about, the people tied to them in the layers
    asked about: the matrix rows' columns, one per tie (a tie drawn twice counts once per
    layer it is in), so "tied to a gang member" reads the same as a product with the rows."""
    model = YouthJusticeModel(scenario=small(population=1500))
    net, ppl = model.network, model.people
    rng = np.random.default_rng(3)
    people = rng.choice(np.arange(ppl.lo, ppl.n), 200, replace=False)
    layers = ("friendship", "siblings")
    owner, other = net.ties_of(people, layers)
    assert owner.size == other.size
    for i in rng.choice(people.size, 40, replace=False):
        expected = np.sort(
            np.concatenate([net.adjacency[layer][people[i]].indices for layer in layers])
        )
        assert np.array_equal(np.sort(other[owner == i]), expected)
    in_gang = (ppl.gang >= 0).astype(float)
    product = sum(net.adjacency[layer][people] @ in_gang for layer in layers) > 0
    tied = np.zeros(people.size, dtype=bool)
    tied[owner[ppl.gang[other] >= 0]] = True
    assert np.array_equal(tied, product)
    assert tied.any() and not tied.all()  # the case is not trivial either way
