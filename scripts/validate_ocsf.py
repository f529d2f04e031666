#!/usr/bin/env python3
"""Validate OCSF events against the official OCSF JSON Schema.

Usage: validate_ocsf.py [--version 1.8.0] PATH...

Every PATH is a file or a directory searched recursively. `*.json` files hold
one event (or a JSON array of events); `*.ndjson` / `*.jsonl` files hold one
event per line. Each event is checked against the compiled JSON Schema of its
class (`class_uid`) with the profiles it declares in `metadata.profiles`, as
shipped by the PyPI package `ocsf-json-schema`, using `jsonschema`.

Prints each failure, then how many events were validated; exits 1 on any
failure (or when nothing was found), 0 otherwise.

    pip install ocsf-json-schema jsonschema
"""
import argparse
import json
import sys
from pathlib import Path

try:
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
except ImportError as e:  # pragma: no cover
    sys.exit(f"validate_ocsf: missing dependency ({e}); pip install ocsf-json-schema jsonschema")


def events_in(path: Path):
    """Yield (location, event) for every event in a file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".ndjson", ".jsonl"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path}:{n}", json.loads(line)
        return
    doc = json.loads(text)
    if isinstance(doc, list):
        for i, e in enumerate(doc):
            yield f"{path}[{i}]", e
    else:
        yield str(path), doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="1.8.0")
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args()

    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(args.version))
    validators = {}
    files = []
    for p in args.paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in (".json", ".ndjson", ".jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            print(f"error: {p}: no such file or directory")
            return 1

    validated = failed = 0
    for f in files:
        try:
            items = list(events_in(f))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            print(f"FAIL {f}: not JSON: {e}")
            failed += 1
            continue
        for where, event in items:
            validated += 1
            if not isinstance(event, dict) or not isinstance(event.get("class_uid"), int):
                print(f"FAIL {where}: not an OCSF event (no integer class_uid)")
                failed += 1
                continue
            profiles = tuple(sorted((event.get("metadata") or {}).get("profiles") or []))
            key = (event["class_uid"], profiles)
            if key not in validators:
                try:
                    name = schema.lookup_class_name_from_uid(event["class_uid"])
                    s = schema.get_class_schema(name, list(profiles))
                except Exception as e:  # unknown class or profile
                    print(f"FAIL {where}: no schema for class_uid {event['class_uid']} with profiles {list(profiles)}: {e}")
                    failed += 1
                    continue
                validators[key] = jsonschema.Draft202012Validator(s)
            errors = sorted(validators[key].iter_errors(event), key=lambda e: list(e.absolute_path))
            if errors:
                failed += 1
                for e in errors[:10]:
                    loc = "/".join(str(x) for x in e.absolute_path) or "(root)"
                    print(f"FAIL {where}: {loc}: {e.message}")
    print(f"validated {validated} OCSF {args.version} events from {len(files)} files: {validated - failed} valid, {failed} invalid")
    if validated == 0:
        print("error: no events found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
