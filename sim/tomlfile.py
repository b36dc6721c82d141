"""Reading the TOML files a person writes, and saying in one line what is wrong with one.

Scenarios, experiments and calibration configs (and their targets files) are all read
here: :func:`read_toml` turns a file into a table, :func:`validate` checks the table
against a pydantic schema, and every problem becomes an :class:`InputError`, one line
naming the file and the key ("did you mean ...?" for a misspelt key). Nothing in a
file is evaluated.

Limits, so that a careless or hostile file cannot exhaust memory or the stack:

- a file larger than :data:`MAX_TOML_BYTES` (1 MiB) is refused unread; the largest
  file shipped (a calibration config) is under 10 KB;
- tables or arrays nested deeper than :data:`MAX_NESTING` (32) are refused; no
  schema here goes deeper than 4.
"""

from __future__ import annotations

import difflib
import errno
import json
import os
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

# 1 MiB: a hundred times the largest file shipped, far below what would strain memory
# (tomllib needs about twice the file's size).
MAX_TOML_BYTES = 1 << 20
# Tables and arrays inside one another; the deepest schema (intervention blocks in a
# scenario, targets in a targets file) is 4 levels, and tomllib recurses once per level.
MAX_NESTING = 32

SYMLINK_LOOP = "a symbolic link that loops (or too many links in a row)"

M = TypeVar("M", bound=BaseModel)


class InputError(Exception):
    """A problem with an input file, with the file and the key it concerns.

    The base of ScenarioError, ExperimentError, CalibrationError and PosteriorError:
    the command line catches this one class and prints its one line (exit status 2).
    """

    def __init__(self, path: str | Path, key: str, message: str) -> None:
        self.path, self.key, self.message = str(path), key, message
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + message)


class UnknownName(ValueError):
    """Raised by a validator for a name that is not among the known ones (say, an
    intervention): reported as ``KEY.NAME: unknown WHAT; did you mean ...? (known: ...)``."""

    def __init__(self, what: str, name: str, known: Sequence[str]) -> None:
        self.what, self.name, self.known = what, name, list(known)
        super().__init__(f"unknown {what} {name!r}")


def suggest(word: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_toml(path: str | Path, error: type[InputError], missing: str) -> dict[str, Any]:
    """A TOML file's table; any problem reading it raises ``error`` naming the file.

    ``missing`` is the message for a file that does not exist ("no such scenario file").
    """
    return read_toml_text(path, error, missing)[0]


def read_toml_text(
    path: str | Path, error: type[InputError], missing: str
) -> tuple[dict[str, Any], str]:
    """A TOML file's table and its text (for a file whose text is recorded); see
    :func:`read_toml`."""
    path = Path(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise error(path, "", "is a folder, not a TOML file")
        if not stat.S_ISREG(st.st_mode):
            raise error(path, "", "not a regular file")
        if st.st_size > MAX_TOML_BYTES:
            raise error(path, "", _too_large(st.st_size))
        with open(path, "rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)  # the file may have grown since the stat
    except OSError as e:
        raise error(path, "", _os_problem(e, missing)) from None
    if len(raw) > MAX_TOML_BYTES:
        raise error(path, "", _too_large(len(raw)))
    try:
        # Newlines as Path.read_text gives them (the text is hashed into results folders).
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise error(path, "", "not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as e:
        raise error(path, "", f"not valid TOML ({e})") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise error(path, "", _too_deep()) from None
    if _depth(data) > MAX_NESTING:
        raise error(path, "", _too_deep())
    return data, text


def _too_large(size: int) -> str:
    return f"too large for a TOML file ({size:,} bytes; the limit is {MAX_TOML_BYTES:,})"


def _too_deep() -> str:
    return f"tables or arrays nested more than {MAX_NESTING} deep"


def _os_problem(e: OSError, missing: str) -> str:
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return missing
    if e.errno == errno.ELOOP:
        return SYMLINK_LOOP
    if e.errno in (errno.EACCES, errno.EPERM):
        return "cannot read the file: permission denied"
    if e.errno == errno.ENAMETOOLONG:
        return "the file name is too long"
    return f"cannot read the file: {e.strerror or e}"


def _depth(data: Any) -> int:
    """How deeply tables and arrays nest in ``data`` (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def resolved(path: str | Path, error: type[InputError]) -> Path:
    """``path`` made absolute with its links followed; a loop raises ``error``."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a loop
        raise error(path, "", SYMLINK_LOOP) from None


# -- validation ---------------------------------------------------------------------------

KnownKeys = Callable[[tuple], Sequence[str] | None]


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Known keys of the (sub)model at ``loc`` (for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _describe_one(
    err: Mapping[str, Any], root: type[BaseModel], known_keys: KnownKeys | None
) -> tuple[str, str]:
    """(key, message) for one pydantic error, in words a file's author uses."""
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    kind, ctx = err["type"], err.get("ctx", {})
    got = err.get("input")
    if kind == "extra_forbidden":
        parent = loc[:-1]
        known = known_keys(parent) if known_keys is not None else None
        if known is None:
            known = _fields_at(root, parent)
        return key, "unknown key" + suggest(str(loc[-1]), known)
    if kind == "missing" and isinstance(loc[-1], int):
        return ".".join(str(p) for p in loc[:-1]), "too few values in the list"
    if kind in ("too_long", "too_short"):
        return key, f"wrong number of values in the list, got {got!r}"
    if kind == "missing":
        return key, "required key is missing"
    bounds = {
        "greater_than_equal": ">= {ge}",
        "greater_than": "> {gt}",
        "less_than_equal": "<= {le}",
        "less_than": "< {lt}",
    }
    if kind in bounds:
        return key, f"expected a value {bounds[kind].format(**ctx)}, got {got!r}"
    if kind == "finite_number":  # nan or inf (Params refuse them)
        return key, f"expected a finite number, got {got!r}"
    if kind == "value_error" and isinstance(ctx.get("error"), UnknownName):
        e = ctx["error"]
        known_text = f" (known: {', '.join(e.known)})" if e.known else ""
        return (
            ".".join(str(p) for p in (*loc, e.name)),
            f"unknown {e.what}" + suggest(e.name, e.known) + known_text,
        )
    msg = err["msg"].replace("Value error, ", "")
    msg = f"{msg[0].lower()}{msg[1:]}"
    return key, f"{msg}, got {got!r}" if got is not None and not isinstance(got, dict) else msg


def describe_error(
    exc: ValidationError, root: type[BaseModel], *, known_keys: KnownKeys | None = None
) -> tuple[str, str]:
    """(key, message) for a validation error of ``root``: its first problem, and how many more.

    A misspelt key also makes the key it meant "missing", so unknown keys come first.
    ``known_keys(loc)`` may name the keys allowed at ``loc`` where the schema cannot
    (a table of plug-in blocks); None falls back to the schema.
    """
    errors = sorted(exc.errors(), key=lambda err: err["type"] != "extra_forbidden")
    key, message = _describe_one(errors[0], root, known_keys)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    return key, message


def validate(
    model: type[M],
    data: Any,
    path: str | Path,
    error: type[InputError],
    *,
    key_prefix: str = "",
    known_keys: KnownKeys | None = None,
) -> M:
    """``model`` validated from ``data``; a problem raises ``error`` naming ``path`` and the key
    (under ``key_prefix`` when ``data`` is one block of a larger file)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        key, message = describe_error(e, model, known_keys=known_keys)
        full = ".".join(k for k in (key_prefix, key) if k)
        raise error(path, full, message) from None


def load_toml(
    path: str | Path, model: type[M], error: type[InputError], missing: str = "no such file"
) -> tuple[M, dict[str, Any]]:
    """Read and validate a TOML file against ``model``; return it and the raw table."""
    data = read_toml(path, error, missing)
    return validate(model, data, path, error), data


# -- writing -----------------------------------------------------------------------------


def toml_tables(values: Mapping[str, Any]) -> list[str]:
    """Dotted parameters as the lines of TOML tables (``{"justice.x": 0.1}`` -> ``[justice]``
    then ``x = 0.1``); floats at full precision (their shortest exact repr), so a file
    written from them reads back the same values to the bit."""
    return _tables(_nested(values))


def _nested(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested tables: {"a.b": 1} -> {"a": {"b": 1}}."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(str(value))


def _tables(data: dict[str, Any], prefix: str = "") -> list[str]:
    plain = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    lines = ([f"[{prefix}]"] if prefix and plain else []) + plain
    for k, v in data.items():
        if isinstance(v, dict):
            lines += _tables(v, f"{prefix}.{k}" if prefix else k)
    return lines
