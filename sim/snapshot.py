"""Snapshots: a model's whole state at a week, kept in a file, to continue from.

An experiment burns each (seed, draw) in once under the baseline's policies, keeps a
snapshot, and starts every scenario from it (:mod:`sim.fork`); the browser view starts
from one too. A restored snapshot continued gives bit-identical results to the run it
was taken from, uninterrupted (``tests/test_snapshot.py``).

What is kept
    Everything the model holds that changes as it runs: the people arrays, the network's
    sparse matrices, every concern's arrays, caches and counters, the case book, the
    event log, the random streams' states, Mesa's own generators, the DataCollector's
    rows. What is *not* kept is what the scenario rebuilds exactly: parameters, the week
    plan, references to the model. A snapshot is restored into a model freshly built
    from a scenario with the same world (:func:`restore`), which supplies those.

The file (format ``yjsim-snapshot``, version :data:`VERSION`)
    A zip (deflated) holding ``snapshot.json`` and ``arrays/<i>.npy``: NumPy's own
    ``.npy`` format, read with ``allow_pickle=False``. ``snapshot.json`` has the format
    and version, the key (a hash of everything that shaped the state, see
    :mod:`sim.fork`), the week, the source version that wrote it, each array's dtype and
    shape, and the state tree. Every value in the tree is JSON or a tagged node
    (``{"t": ...}``): ``array`` (an index into ``arrays/``), ``sparse`` (a CSR matrix's
    three arrays and shape), ``object`` (a yjsim class by module and name, with its
    attributes; a second reference to the same object is a ``ref``), ``list``,
    ``tuple``, ``dict``, ``counter``, ``set``, ``slice``, ``scalar`` (a NumPy scalar and its
    dtype), ``float`` (NaN and infinities), ``generator`` (a NumPy bit generator's
    state), ``random`` (Python's ``random.Random`` state), and ``model`` and ``params`` (taken
    from the model it is restored into). Functions are code, not state: a concern that
    keeps one is refused when the snapshot is taken. Nothing in a file is evaluated
    or unpickled: a class is looked up by name among yjsim's own (``sim.*``) and its
    attributes set; anything else is refused.

Loading validates the format, version, key, every array's dtype and shape against the
manifest and the zip's checksums; a file that fails any of them is a
:class:`SnapshotError`, and the batch makes the snapshot again.
"""

from __future__ import annotations

import importlib
import io
import json
import random
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel

from sim.faults import write_atomically

if TYPE_CHECKING:
    from sim.model import YouthJusticeModel

FORMAT = "yjsim-snapshot"
# 2: the network's edge lists are a ``sim.network.EdgeLists`` (parts per cohort), not a
# dict of arrays; a version-1 file would restore a network this code cannot step.
VERSION = 2
MANIFEST = "snapshot.json"
SUFFIX = ".yjsnap"

# The model's attributes that the scenario rebuilds exactly (or Mesa owns): never kept.
MODEL_REBUILT = frozenset(
    {
        "params",
        "seed",
        "_seed",
        "burn_in_weeks",
        "measured_weeks",
        "total_weeks",
        "week_plan",
        "step",  # Mesa's wrapper of the step method
        "_user_step",
        "_views",  # agent views of young people, made on demand
        "_agents",
        "_agents_by_type",
        "_all_agents",
        "datacollector",  # its rows are kept (model_vars); its reporters are code
        "interventions",  # kept one by one, by name (policies may differ on restore)
    }
)


class SnapshotError(Exception):
    """A snapshot that cannot be taken, read or restored (the message says why)."""


@dataclass
class Snapshot:
    """A model's state at the start of ``week``: a JSON tree and the arrays it refers to."""

    key: str
    week: int
    tree: dict[str, Any]
    arrays: list[np.ndarray]


# -- taking a snapshot ---------------------------------------------------------------


class _Encoder:
    def __init__(self, model: YouthJusticeModel) -> None:
        self.model = model
        self.arrays: list[np.ndarray] = []
        self.array_index: dict[int, int] = {}
        self.object_index: dict[int, int] = {}
        self.keep_alive: list[Any] = []  # ids stay unique while encoding

    def encode(self, value: Any, path: str) -> Any:
        if value is self.model:
            return {"t": "model"}
        if value is None or isinstance(value, bool | str):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if np.isfinite(value) else {"t": "float", "v": repr(value)}
        if isinstance(value, BaseModel):
            return {"t": "params"}
        if isinstance(value, np.generic):
            return {"t": "scalar", "dtype": value.dtype.str, "v": self.encode(value.item(), path)}
        if isinstance(value, np.ndarray):
            return {"t": "array", "i": self._array(value, path)}
        if sp.issparse(value):
            if value.format != "csr":
                raise SnapshotError(
                    f"{path}: only CSR sparse matrices are kept, not {value.format}"
                )
            return {
                "t": "sparse",
                "class": type(value).__name__,
                "shape": list(value.shape),
                "sorted": bool(value.has_sorted_indices),
                "data": self._array(value.data, f"{path}.data"),
                "indices": self._array(value.indices, f"{path}.indices"),
                "indptr": self._array(value.indptr, f"{path}.indptr"),
            }
        if type(value) is list or type(value) is tuple:
            items = [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return {"t": type(value).__name__, "v": items}
        if type(value) is dict or type(value) is Counter:
            keys = [self.encode(k, f"{path} key") for k in value]
            vals = [self.encode(v, f"{path}[{k!r}]") for k, v in value.items()]
            return {"t": "counter" if type(value) is Counter else "dict", "k": keys, "v": vals}
        if type(value) is slice:
            return {
                "t": "slice",
                "v": [self.encode(x, path) for x in (value.start, value.stop, value.step)],
            }
        if type(value) is set or type(value) is frozenset:
            return {"t": "set", "v": [self.encode(v, path) for v in sorted(value)]}
        if isinstance(value, np.random.Generator):
            state = value.bit_generator.state
            return {"t": "generator", "state": state}
        if type(value) is random.Random:
            version, internal, gauss = value.getstate()
            return {"t": "random", "state": [version, list(internal), gauss]}
        cls = type(value)
        if cls.__module__.split(".")[0] == "sim" and hasattr(value, "__dict__"):
            return self._object(value, path)
        raise SnapshotError(f"{path}: cannot keep a {cls.__module__}.{cls.__qualname__}")

    def _array(self, arr: np.ndarray, path: str) -> int:
        got = self.array_index.get(id(arr))
        if got is not None:
            return got
        if arr.dtype.hasobject:
            raise SnapshotError(f"{path}: an array of Python objects cannot be kept")
        for i, other in enumerate(self.arrays):
            if np.may_share_memory(arr, other) and np.shares_memory(arr, other):
                raise SnapshotError(
                    f"{path}: a view of another kept array (number {i}); keep one of them"
                )
        self.arrays.append(arr)
        self.keep_alive.append(arr)
        self.array_index[id(arr)] = len(self.arrays) - 1
        return len(self.arrays) - 1

    def _object(self, obj: Any, path: str) -> dict[str, Any]:
        ref = self.object_index.get(id(obj))
        if ref is not None:
            return {"t": "ref", "ref": ref}
        ref = len(self.object_index)
        self.object_index[id(obj)] = ref
        self.keep_alive.append(obj)
        cls = type(obj)
        attrs = {k: self.encode(v, f"{path}.{k}") for k, v in vars(obj).items()}
        return {
            "t": "object",
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "ref": ref,
            "attrs": attrs,
        }


def capture(model: YouthJusticeModel, key: str = "") -> Snapshot:
    """The model's state now (at the start of week ``model.week``), arrays not copied.

    Take it between steps. The arrays are the model's own: copy (save, or restore into
    another model) before stepping this one on.
    """
    enc = _Encoder(model)
    state = {
        name: enc.encode(value, f"model.{name}")
        for name, value in vars(model).items()
        if name not in MODEL_REBUILT
    }
    interventions = {
        item.name: {
            "params": item.params.model_dump(mode="json"),
            "state": enc.encode(item, f"model.interventions.{item.name}"),
        }
        for item in model.interventions
    }
    dc = model.datacollector
    if dc._agent_records or dc._agenttype_records or dc.tables:
        raise SnapshotError("model.datacollector: only model-level rows can be kept")
    tree = {
        "model": state,
        "interventions": interventions,
        "datacollector": enc.encode(dict(dc.model_vars), "model.datacollector.model_vars"),
    }
    return Snapshot(key=key, week=int(model.week), tree=tree, arrays=enc.arrays)


# -- restoring ---------------------------------------------------------------------------

_MISSING = object()


class _Decoder:
    def __init__(self, model: YouthJusticeModel, snap: Snapshot) -> None:
        self.model = model
        self.snap = snap
        self.arrays: dict[int, np.ndarray] = {}
        self.objects: dict[int, Any] = {}

    def array(self, i: int) -> np.ndarray:
        got = self.arrays.get(i)
        if got is None:
            got = self.arrays[i] = self.snap.arrays[i].copy()  # the model writes in place
        return got

    def decode(self, node: Any, current: Any, path: str) -> Any:
        if not isinstance(node, dict):
            return node
        t = node.get("t")
        if t == "params":
            if current is _MISSING:
                raise SnapshotError(f"{path}: not in the model it is restored into")
            return current
        if t == "model":
            return self.model
        if t == "float":
            return float(node["v"])
        if t == "scalar":
            return np.dtype(node["dtype"]).type(self.decode(node["v"], _MISSING, path))
        if t == "array":
            return self.array(node["i"])
        if t == "sparse":
            cls = {"csr_matrix": sp.csr_matrix, "csr_array": sp.csr_array}[node["class"]]
            m = cls(
                (self.array(node["data"]), self.array(node["indices"]), self.array(node["indptr"])),
                shape=tuple(node["shape"]),
                copy=False,
            )
            m.has_sorted_indices = node["sorted"]
            return m
        if t in ("list", "tuple"):
            cur = current if isinstance(current, list | tuple) else ()
            items = [
                self.decode(v, cur[i] if i < len(cur) else _MISSING, f"{path}[{i}]")
                for i, v in enumerate(node["v"])
            ]
            return items if t == "list" else tuple(items)
        if t in ("dict", "counter"):
            cur = current if isinstance(current, dict) else {}
            out: dict[Any, Any] = Counter() if t == "counter" else {}
            for k, v in zip(node["k"], node["v"], strict=True):
                key = self.decode(k, _MISSING, path)
                key = tuple(key) if isinstance(key, list) else key
                out[key] = self.decode(v, cur.get(key, _MISSING), f"{path}[{key!r}]")
            return out
        if t == "slice":
            return slice(*(self.decode(x, _MISSING, path) for x in node["v"]))
        if t == "set":
            return {self.decode(v, _MISSING, path) for v in node["v"]}
        if t == "generator":
            state = node["state"]
            bits = {"PCG64": np.random.PCG64}.get(state.get("bit_generator"))
            if bits is None:
                raise SnapshotError(f"{path}: unknown bit generator {state.get('bit_generator')}")
            gen = current if isinstance(current, np.random.Generator) else None
            if gen is None or type(gen.bit_generator) is not bits:
                gen = np.random.Generator(bits())
            gen.bit_generator.state = state
            return gen
        if t == "random":
            version, internal, gauss = node["state"]
            rnd = current if type(current) is random.Random else random.Random()
            rnd.setstate((version, tuple(internal), gauss))
            return rnd
        if t == "ref":
            try:
                return self.objects[node["ref"]]
            except KeyError:
                raise SnapshotError(f"{path}: refers to an object not yet restored") from None
        if t == "object":
            return self.restore_object(node, current, path)
        raise SnapshotError(f"{path}: unknown node type {t!r}")

    def restore_object(self, node: dict[str, Any], current: Any, path: str) -> Any:
        cls = _yjsim_class(node["class"], path)
        target = current if type(current) is cls else cls.__new__(cls)
        self.objects[node["ref"]] = target
        here = vars(target)
        for name, value in node["attrs"].items():
            restored = self.decode(value, here.get(name, _MISSING), f"{path}.{name}")
            object.__setattr__(target, name, restored)
        return target


def _yjsim_class(name: str, path: str) -> type:
    """A class of yjsim's own, by ``module:qualname``; anything else is refused."""
    module, _, qualname = name.partition(":")
    if module.split(".")[0] != "sim" or not qualname.isidentifier():
        raise SnapshotError(f"{path}: {name!r} is not a yjsim class")
    try:
        cls = getattr(importlib.import_module(module), qualname)
    except (ImportError, AttributeError):
        raise SnapshotError(f"{path}: no class {name!r} in this version of yjsim") from None
    if not isinstance(cls, type) or issubclass(cls, BaseModel):
        raise SnapshotError(f"{path}: {name!r} is not a state class")
    return cls


def restore(model: YouthJusticeModel, snap: Snapshot) -> list[str]:
    """Write ``snap`` into ``model``, freshly built from a scenario with the same world.

    Each intervention of ``model`` that also ran in the snapshot with the same parameters
    takes its state from it; any other starts as built: a programme begun, changed or
    stopped at the snapshot's week. Returns the names of the interventions that started
    afresh.
    """
    if model.week != 0:
        raise SnapshotError("restore into a freshly built model (week 0)")
    dec = _Decoder(model, snap)
    here = vars(model)
    for name, node in snap.tree["model"].items():
        if name in MODEL_REBUILT:
            raise SnapshotError(f"model.{name}: rebuilt by the scenario, not restored")
        value = dec.decode(node, here.get(name, _MISSING), f"model.{name}")
        object.__setattr__(model, name, value)
    kept = snap.tree["interventions"]
    fresh = []
    for item in model.interventions:
        saved = kept.get(item.name)
        same = saved is not None and saved["params"] == item.params.model_dump(mode="json")
        if same:
            dec.decode(saved["state"], item, f"model.interventions.{item.name}")
        else:
            fresh.append(item.name)
    rows = dec.decode(snap.tree["datacollector"], _MISSING, "model.datacollector.model_vars")
    model.datacollector.model_vars.clear()
    model.datacollector.model_vars.update(rows)
    return fresh


# -- files ------------------------------------------------------------------------------


def save(snap: Snapshot, path: Path, source_version: str) -> None:
    """Write ``snap`` to ``path``: whole or absent (a temporary file, then a rename)."""
    path = Path(path)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "key": snap.key,
        "week": snap.week,
        "source_version": source_version,
        "arrays": [
            {"dtype": a.dtype.descr if a.dtype.names else a.dtype.str, "shape": list(a.shape)}
            for a in snap.arrays
        ],
        "tree": snap.tree,
    }

    def write(tmp: str) -> None:
        # Deflate at level 1: a Croydon world goes from 89 MB to 12 MB for 0.5 s of a core
        # (against 2 s for the burn-in itself), and reads back in 0.16 s.
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":")))
            for i, arr in enumerate(snap.arrays):
                with zf.open(f"arrays/{i}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)

    write_atomically(path, write)


def load(path: Path, key: str | None = None) -> Snapshot:
    """Read and validate a snapshot file; ``key``, if given, must be the file's."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read(MANIFEST))
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise SnapshotError(
                    f"{path}: not a {FORMAT} file of version {VERSION} "
                    f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})"
                )
            if key is not None and manifest.get("key") != key:
                raise SnapshotError(f"{path}: made for key {manifest.get('key')}, not {key}")
            arrays = []
            for i, spec in enumerate(manifest["arrays"]):
                data = zf.read(f"arrays/{i}.npy")  # checks the entry's CRC
                arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
                want = spec["dtype"]
                dtype = np.dtype([tuple(f) for f in want] if isinstance(want, list) else want)
                if arr.dtype != dtype or list(arr.shape) != spec["shape"]:
                    raise SnapshotError(
                        f"{path}: array {i} is not the {dtype} {spec['shape']} listed"
                    )
                arrays.append(arr)
            return Snapshot(
                key=manifest["key"],
                week=int(manifest["week"]),
                tree=manifest["tree"],
                arrays=arrays,
            )
    except SnapshotError:
        raise
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as e:
        raise SnapshotError(f"{path}: not a readable snapshot ({type(e).__name__}: {e})") from None
