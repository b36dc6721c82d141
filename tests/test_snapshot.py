"""Snapshots (sim/snapshot.py): a restored world continues exactly as the run it came from,
and a file that is not a good snapshot is refused with the reason."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS, small

from sim import fork, snapshot
from sim.model import YouthJusticeModel
from sim.scenario import load_scenario
from sim.simulation import simulate
from sim.snapshot import SnapshotError
from sim.summary import summarise, timeseries


def _burned_in(sc, seed: int) -> snapshot.Snapshot:
    return fork.burn_in(sc, seed, key="test")


@pytest.fixture(scope="module")
def combined():
    """Every intervention on: the most state there is to keep."""
    return small(load_scenario(SCENARIOS / "combined-package.toml"), years=2, burn_in=2)


def test_a_restored_world_continues_bit_for_bit_as_the_uninterrupted_run(combined, tmp_path):
    whole = YouthJusticeModel(scenario=combined, seed=3)
    whole.run()
    snap = _burned_in(combined, 3)
    path = tmp_path / f"w{snapshot.SUFFIX}"
    snapshot.save(snap, path, source_version="test")
    done = simulate(combined, 3, series=True, start=snapshot.load(path, key="test"))
    assert done.started_afresh == []
    assert json.dumps(done.summary, sort_keys=True) == json.dumps(summarise(whole), sort_keys=True)
    pd.testing.assert_frame_equal(done.series, timeseries(whole))


def test_one_snapshot_starts_several_runs_and_none_writes_into_it(combined):
    snap = _burned_in(combined, 4)
    before = [a.copy() for a in snap.arrays]
    first = simulate(combined, 4, start=snap).summary
    second = simulate(combined, 4, start=snap).summary
    assert first == second
    assert all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(before, snap.arrays, strict=True)
    )


def test_a_changed_or_new_programme_starts_afresh_and_an_unchanged_one_carries_on(combined):
    snap = _burned_in(combined, 5)
    changed = combined.model_copy(deep=True)
    changed.interventions["schools_officers"].officers = 8
    afresh = simulate(changed, 5, start=snap).started_afresh
    assert afresh == ["schools_officers"]
    stopped = combined.model_copy(deep=True)
    stopped.interventions["triage"].enabled = False
    assert simulate(stopped, 5, start=snap).started_afresh == []


def test_a_policy_fork_shares_the_burn_in_and_differs_only_from_year_0(combined):
    snap = _burned_in(combined, 6)
    base = simulate(combined, 6, series=True, start=snap).series
    other = combined.model_copy(deep=True)
    other.interventions["schools_officers"].officers = 0
    forked = simulate(other, 6, series=True, start=snap).series
    burn = base["week"] < snap.week
    pd.testing.assert_frame_equal(base[burn], forked[burn])
    assert not base[~burn].equals(forked[~burn])


def test_a_snapshot_of_another_week_is_refused(combined):
    snap = _burned_in(combined, 7)
    longer = combined.model_copy(
        update={"run": combined.run.model_copy(update={"burn_in_years": 3})}
    )
    with pytest.raises(ValueError, match="week 104"):
        simulate(longer, 7, start=snap)


def test_the_world_excludes_labels_and_policies_only(combined):
    other = combined.model_copy(deep=True, update={"name": "x", "description": "y"})
    other.interventions["triage"].enabled = False
    assert fork.world_differences(combined, other) == []
    assert fork.burn_in_key(combined, 1, "v") != fork.burn_in_key(other, 1, "v")  # policies
    assert fork.burn_in_key(combined, 1, "v") != fork.burn_in_key(combined, 2, "v")
    assert fork.burn_in_key(combined, 1, "v") != fork.burn_in_key(combined, 1, "w")
    more = combined.model_copy(deep=True)
    more.justice.detection_scale *= 1.5
    assert fork.world_differences(combined, more) == ["justice.detection_scale"]
    assert fork.sources([combined, other, more]) == [0, 0, 2]


# -- files that are not good snapshots ------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("snap") / f"good{snapshot.SUFFIX}"
    snapshot.save(_burned_in(small(years=1, burn_in=1, population=1500), 1), path, "test")
    return path


def _rewrite(src: Path, dst: Path, change) -> Path:
    """A copy of the snapshot ``src`` with ``change(name, bytes) -> bytes`` applied."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
    return dst


def _manifest_edit(edit):
    def change(name: str, data: bytes) -> bytes:
        if name != snapshot.MANIFEST:
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()

    return change


def test_a_good_snapshot_loads_and_checks_its_key(saved):
    assert snapshot.load(saved, key="test").week == 52
    with pytest.raises(SnapshotError, match="made for key test"):
        snapshot.load(saved, key="other")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda m: m.update(version=99), "version"),
        (lambda m: m.update(format="other"), "not a yjsim-snapshot"),
        (lambda m: m["arrays"][0].update(shape=[3]), "is not the"),
        (lambda m: m.pop("tree"), "not a readable snapshot"),
    ],
)
def test_a_snapshot_with_a_wrong_manifest_is_refused(saved, tmp_path, edit, reason):
    bad = _rewrite(saved, tmp_path / "bad.yjsnap", _manifest_edit(edit))
    with pytest.raises(SnapshotError, match=reason):
        snapshot.load(bad)


def test_a_truncated_or_foreign_file_is_refused(saved, tmp_path):
    cut = tmp_path / "cut.yjsnap"
    cut.write_bytes(saved.read_bytes()[:1000])
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        snapshot.load(cut)
    text = tmp_path / "text.yjsnap"
    text.write_text("hello")
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        snapshot.load(text)


def test_an_array_of_python_objects_is_never_unpickled(saved, tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)

    def change(name: str, data: bytes) -> bytes:
        return buf.getvalue() if name == "arrays/0.npy" else data

    bad = _rewrite(saved, tmp_path / "pickle.yjsnap", change)
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        snapshot.load(bad)


@pytest.mark.parametrize("cls", ["os:system", "builtins:object", "sim.scenario:Scenario"])
def test_only_yjsim_state_classes_are_built_from_a_file(saved, tmp_path, cls):
    def edit(manifest):
        manifest["tree"]["model"]["tally"]["class"] = cls

    snap = snapshot.load(_rewrite(saved, tmp_path / "cls.yjsnap", _manifest_edit(edit)))
    model = YouthJusticeModel(scenario=small(years=1, burn_in=1, population=1500), seed=1)
    with pytest.raises(SnapshotError, match=r"model\.tally"):
        snapshot.restore(model, snap)


def test_a_world_that_cannot_be_kept_says_where(small_scenario):
    model = YouthJusticeModel(scenario=small_scenario, seed=1)
    model.tally.view = model.people.birth_week[:10]  # restored apart, it would stop being a view
    with pytest.raises(SnapshotError, match=r"model\.tally\.view: a view of another kept array"):
        snapshot.capture(model)
    del model.tally.view
    model.tally.hook = print  # code is not state
    with pytest.raises(SnapshotError, match=r"model\.tally\.hook: cannot keep a builtins"):
        snapshot.capture(model)
