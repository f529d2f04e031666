"""mesh: verify credentials, decide access, normalize telemetry, detect,
revoke, report.

`now` arguments are a `datetime` or Unix seconds (float); when omitted the
current time is read here, never by the engine.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, List, Optional, TypeVar, Union

from ._mesh import (
    Analytics,
    AnalyticsError,
    ConfigError,
    Decision,
    EventError,
    Identity,
    IdentityError,
    Mesh,
    MeshError,
    Observation,
    PolicyError,
    ReportError,
    Summary,
    __version__,
    actor_key,
    check_policies,
    normalize,
    normalize_many,
    normalize_ndjson,
    render_report,
    test_policies,
)

__all__ = [
    "Analytics",
    "AnalyticsError",
    "ConfigError",
    "Decision",
    "EventError",
    "Identity",
    "IdentityError",
    "Mesh",
    "MeshError",
    "Observation",
    "PolicyError",
    "ReportError",
    "Summary",
    "__version__",
    "actor_key",
    "check_policies",
    "normalize",
    "normalize_file",
    "normalize_many",
    "normalize_ndjson",
    "render_report",
    "report",
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


_P = TypeVar("_P", str, "os.PathLike[str]")


def report(
    path: _P,
    *,
    summary: Optional[Summary] = None,
    decisions: Iterable[Decision] = (),
    events: Iterable[Any] = (),
    findings: Iterable[Any] = (),
    now: Any = None,
    title: str = "mesh report",
    silence_threshold: float = 900.0,
    top_n: int = 10,
) -> _P:
    """Writes the self-contained HTML report (inline CSS and SVG, no script,
    works offline) to `path` and returns `path`.

    The page shows `summary` (not modified) plus `decisions` (`Decision`
    objects), `events` (OCSF records: dict, str or bytes; records that are
    not OCSF are skipped and counted) and `findings` (Detection Finding dicts
    or `Observation`s). A source silent longer than `silence_threshold`
    seconds at `now` is shown as a coverage gap.
    """
    html = render_report(
        summary,
        decisions=decisions,
        events=events,
        findings=findings,
        now=now,
        title=title,
        silence_threshold=silence_threshold,
        top_n=top_n,
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    return path


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
