"""mesh: verify credentials, decide access, normalize telemetry, revoke.

`now` arguments are a `datetime` or Unix seconds (float); when omitted the
current time is read here, never by the engine.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Optional, Union

from ._mesh import (
    ConfigError,
    Decision,
    EventError,
    Identity,
    IdentityError,
    Mesh,
    MeshError,
    PolicyError,
    __version__,
    actor_key,
    check_policies,
    normalize,
    normalize_many,
    normalize_ndjson,
    test_policies,
)

__all__ = [
    "ConfigError",
    "Decision",
    "EventError",
    "Identity",
    "IdentityError",
    "Mesh",
    "MeshError",
    "PolicyError",
    "__version__",
    "actor_key",
    "check_policies",
    "normalize",
    "normalize_file",
    "normalize_many",
    "normalize_ndjson",
    "test_policies",
]


def normalize_file(
    path: Union[str, "os.PathLike[str]"],
    out_path: Union[str, "os.PathLike[str]", None] = None,
    source: Optional[str] = None,
    now: Any = None,
    chunk_bytes: int = 4 << 20,
) -> Union[List[Any], List[EventError]]:
    """Normalizes an NDJSON (or line-oriented) file.

    With `out_path`, writes the events as NDJSON there and returns the list of
    `EventError`s (each with `.line`, 1-based in the input file). Without it,
    returns the events (dicts) and errors in input order, like `normalize_many`.
    """
    if out_path is None:
        with open(path, "rb") as f:
            return normalize_many((ln for ln in f if ln.strip()), source=source, now=now)
    errors: List[EventError] = []
    with open(path, "rb") as src, open(out_path, "wb") as dst:
        base = 0
        for chunk, lines in _chunks(src, chunk_bytes):
            events, errs = normalize_ndjson(chunk, source=source, now=now)
            dst.write(events)
            for e in errs:
                e.line = getattr(e, "line", 0) + base
                errors.append(e)
            base += lines
    return errors


def _chunks(f: Any, size: int) -> Iterator[Any]:
    buf: List[bytes] = []
    n = 0
    for line in f:
        buf.append(line if line.endswith(b"\n") else line + b"\n")
        n += len(line)
        if n >= size:
            yield b"".join(buf), len(buf)
            buf, n = [], 0
    if buf:
        yield b"".join(buf), len(buf)
