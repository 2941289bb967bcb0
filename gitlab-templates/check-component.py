#!/usr/bin/env python3
"""Validate a GitLab CI/CD component file with check-jsonschema's GitLab schema.

A component is two YAML documents: the `spec:` header, a `---` line, then the jobs.
check-jsonschema reads one document per file, and the jobs hold `$[[ inputs.NAME ]]`
placeholders that GitLab fills in before it validates anything (`parallel:` is a
number only then). So, as GitLab does: the header is validated alone, and the body
after every input is replaced by its default (or by a sample value, for an input
without one), typed as the input says. Usage: check-component.py FILE...
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile

# check-jsonschema's own YAML library, so nothing more needs installing.
from ruamel.yaml import YAML

# A value for inputs without a default (required ones), by type.
SAMPLES = {"string": "sample", "number": 1, "boolean": True, "array": []}


def inputs_of(header: str) -> dict:
    """NAME -> its default, else a sample value of its type (a required input)."""
    spec = YAML(typ="safe").load(header)["spec"]
    out = {}
    for name, body in (spec.get("inputs") or {}).items():
        body = body or {}
        out[name] = body["default"] if "default" in body else SAMPLES[body.get("type", "string")]
    return out


def render(value) -> str:
    # JSON is YAML: a number stays a number, a boolean a boolean, a string is quoted
    # only where it stands alone (`key: $[[ inputs.x ]]`); inside a longer string the
    # raw text goes in.
    return json.dumps(value) if not isinstance(value, str) else value


def main(paths) -> int:
    failed = 0
    for path in paths:
        text = pathlib.Path(path).read_text()
        header, sep, body = text.partition("\n---\n")
        if not sep:
            print(f"{path}: no `---` line after the spec header", file=sys.stderr)
            failed += 1
            continue
        values = inputs_of(header)

        def fill(m):
            name = m.group(1)
            if name not in values:
                raise SystemExit(f"{path}: $[[ inputs.{name} ]] names no input of the spec")
            return render(values[name])

        body = re.sub(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]", fill, body)
        with tempfile.TemporaryDirectory() as tmp:
            head_file = pathlib.Path(tmp, "spec.yml")
            body_file = pathlib.Path(tmp, "jobs.yml")
            head_file.write_text(header + "\n")
            body_file.write_text(body)
            for part, f in (("spec header", head_file), ("jobs", body_file)):
                r = subprocess.run(
                    ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(f)],
                    capture_output=True,
                    text=True,
                )
                status = "ok" if r.returncode == 0 else "FAILED"
                print(f"{path} ({part}): {status}")
                if r.returncode != 0:
                    print(r.stdout + r.stderr, file=sys.stderr)
                    failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
