"""Named random streams, one per concern, for common random numbers.

Each stream is a child of the run's ``SeedSequence`` keyed by a fixed integer
(not derived from a name, so a rename never changes results). The model's own
concerns have their keys in :data:`STREAMS` below; an intervention declares its
key on its class (``stream_key``, 100 and up) and registers it when the class is
defined, so adding an intervention touches only its own module. Switching an
intervention on draws from its own stream and leaves every other stream's draws
where they were, so scenarios run with the same seed differ only by what the
policy does.
"""

from __future__ import annotations

import hashlib

import numpy as np

# The registry: stream name -> fixed key. Never renumber. The model's concerns are below
# 100; interventions register theirs (100 and up) with register_stream.
STREAMS: dict[str, int] = {
    "population": 1,
    "network": 2,
    "behaviour": 3,
    "co_offending": 4,
    "victims": 5,
    "detection": 6,
    "pathway": 7,
    "yos": 8,
    "schools": 9,
    "social_care": 10,
    "gangs": 11,
    "entry": 12,
    "trajectory": 13,
    "gang_listing": 14,
    # Not drawn in a run: an experiment's programme effects, one set per posterior draw,
    # keyed by (the experiment's seed, the draw, the parameter): sim/experiment.py.
    "effects": 15,
    "clear_up": 16,
}
FIRST_INTERVENTION_KEY = 100


def register_stream(name: str, key: int) -> None:
    """Register an intervention's stream ``name`` under its fixed ``key`` (100 and up).

    Registering the same name with the same key again is harmless (a module reloaded);
    a key already used by another stream, or a name registered with another key, is a
    programming error and raises ``ValueError``.
    """
    if key < FIRST_INTERVENTION_KEY:
        raise ValueError(f"stream {name!r}: keys below {FIRST_INTERVENTION_KEY} are the model's")
    if STREAMS.get(name, key) != key:
        raise ValueError(f"stream {name!r} is already registered with key {STREAMS[name]}")
    owner = next((n for n, k in STREAMS.items() if k == key and n != name), None)
    if owner is not None:
        raise ValueError(f"stream key {key} of {name!r} is already used by {owner!r}")
    STREAMS[name] = key


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective scramble of 64-bit integers."""
    z = z + _GOLDEN
    return _mix_in_place(z)


def _mix_in_place(z: np.ndarray) -> np.ndarray:
    """``_mix`` of ``z + golden`` already added, overwriting ``z`` (fewer temporaries)."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def name_key(name: str) -> int:
    """A fixed 63-bit number for a name (the same in every process and on every machine,
    unlike ``hash``), to key draws by a parameter's dotted name."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def rank_within(ids: np.ndarray) -> np.ndarray:
    """Each entry's rank among the entries with the same id (0, 1, ... in order given).

    Used as salt, so that two events of one person in one week get different
    keyed draws.
    """
    order = np.argsort(ids, kind="stable")
    rank = np.empty(ids.size, dtype=np.int64)
    rank[order] = np.arange(ids.size) - np.searchsorted(ids[order], ids[order], side="left")
    return rank


class Streams:
    """Named random streams: a ``Generator`` per concern, and keyed uniforms.

    ``streams[name]`` is a sequential generator, for draws of a fixed size
    every step (one per live person). ``streams.uniform(name, week, ids)``
    is counter-based: the draw for a person in a week depends only on
    (seed, stream, week, person, salt), never on how many draws came before,
    so decisions about the few people with an offence or a case this week
    stay paired across scenarios however the rest of the run differs.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._generators: dict[str, np.random.Generator] = {}
        self._keys: dict[str, np.uint64] = {}

    def uniform(self, name: str, week: int, ids: np.ndarray, salt: int | np.ndarray = 0):
        """Uniforms in [0, 1), one per id, keyed by (stream, week, id, salt)."""
        key = self._keys.get(name)
        if key is None:
            if name not in STREAMS:
                raise KeyError(f"unknown random stream {name!r}; give its class a stream_key")
            seq = np.random.SeedSequence(self.seed, spawn_key=(STREAMS[name], 0))
            key = np.uint64(seq.generate_state(1, dtype=np.uint64)[0])
            self._keys[name] = key
        # The same SplitMix64 chain as _mix(key ^ _mix(week * 0x100000001B3 ^ id)), then
        # _mix(that ^ salt), worked in place on one array; integer arithmetic wraps mod 2**64.
        week_key = np.uint64((int(week) * 0x100000001B3) % 2**64)
        z = np.asarray(ids, dtype=np.int64).astype(np.uint64)
        z ^= week_key
        z += _GOLDEN
        _mix_in_place(z)
        z ^= key
        z += _GOLDEN
        _mix_in_place(z)
        z ^= np.asarray(salt, dtype=np.int64).astype(np.uint64)
        z += _GOLDEN
        _mix_in_place(z)
        z >>= np.uint64(11)
        return z.astype(np.float64) * (1.0 / 9007199254740992.0)

    def uniforms(self, name: str, week: int, ids: np.ndarray, salts: tuple) -> np.ndarray:
        """``uniform`` for each salt in ``salts`` (each an integer or an array like ``ids``),
        as rows of one array: the same numbers, from one pass instead of one call per salt
        (a call costs more than the work at the sizes of a week's offences and cases)."""
        ids = np.asarray(ids, dtype=np.int64)
        k, n = len(salts), ids.size
        all_ids = np.empty((k, n), dtype=np.int64)
        salt = np.empty((k, n), dtype=np.int64)
        for i, v in enumerate(salts):  # a loop over salts (a few), not people
            all_ids[i] = ids
            salt[i] = v
        return self.uniform(name, week, all_ids.ravel(), salt.ravel()).reshape(k, n)

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._generators.get(name)
        if gen is None:
            if name not in STREAMS:
                raise KeyError(f"unknown random stream {name!r}; give its class a stream_key")
            seq = np.random.SeedSequence(self.seed, spawn_key=(STREAMS[name],))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._generators[name] = gen
        return gen
