"""Result files: whole or absent, and created with the user's umask like any other file."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from sim.summary import write_outputs


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_take_the_users_umask(tmp_path, umask, mode):
    before = os.umask(umask)
    try:
        write_outputs(tmp_path / "out", {"schema_version": 1}, pd.DataFrame({"week": [0, 1]}))
    finally:
        os.umask(before)
    for name in ("summary.json", "timeseries.parquet"):
        got = stat.S_IMODE((tmp_path / "out" / name).stat().st_mode)
        assert got == mode, f"{name}: {oct(got)} under umask {oct(umask)}"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "summary.json",
        "timeseries.parquet",
    ]  # no temporary files left behind
