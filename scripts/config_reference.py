"""The configuration reference, docs/configuration.md, generated from schemas/config.schema.yaml.

The schema is the one source of truth for what each key of config.yaml means: its ``description``s
become the page, one section per top-level key, one table row per key (nested keys as dotted names,
``[]`` for the items of a list). Never edit the page by hand; change the schema and regenerate:

    python scripts/config_reference.py                 # write docs/configuration.md
    python scripts/config_reference.py --check         # exit 1 if the page on disk is out of date

Standard library and PyYAML only.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA = ROOT / "schemas" / "config.schema.yaml"
DEFAULT_OUT = ROOT / "docs" / "configuration.md"
REGENERATE = "make docs"

HEADER = (
    "<!-- Generated from schemas/config.schema.yaml by scripts/config_reference.py. "
    "Do not edit: change the schema's descriptions and run `make docs`. -->"
)


def load_schema(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def cell(text: str) -> str:
    """Plain text made safe for one Markdown table cell."""
    text = " ".join(str(text).split())
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("*", r"\*"), ("|", r"\|")):
        text = text.replace(plain, escaped)
    return text


def linked(text: str, link: Callable[[str], str]) -> str:
    """Cell text with each mention of a docs/ page turned into a link (`link` maps a repository path)."""
    return re.sub(r"\bdocs/([\w.-]+\.md)\b", lambda match: f"[{match.group(1)}]({link(match.group(0))})", text)


def sentence(text: str) -> str:
    """A description as a sentence: capital first letter, closing full stop."""
    text = text.strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if not text or text[-1] in ".!?" else text + "."


def code(value: str) -> str:
    """A value as inline code, safe in a table cell."""
    return "`" + str(value).replace("|", r"\|") + "`"


def literal(value) -> str:
    """A YAML value as it would be written in config.yaml."""
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def type_name(node: dict) -> str:
    """'string', 'integer or null', 'list of number', 'number or `auto`'..."""
    if "anyOf" in node:
        return " or ".join(type_name(option) for option in node["anyOf"])
    if "const" in node:
        return code(literal(node["const"]))
    kinds = node.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = []
    for kind in kinds:
        if kind == "array":
            items = node.get("items", {})
            if items.get("type") == "object" or "properties" in items:
                names.append("list of mappings")
            elif items:
                names.append("list of " + type_name(items))
            else:
                names.append("list")
        elif kind == "object":
            names.append("mapping")
        else:
            names.append(kind)
    return " or ".join(names)


def bounds(node: dict) -> str:
    """'0 to 1', 'at least 1', 'above 0, at most 1', or ''."""
    low = high = ""
    if "minimum" in node:
        low = f"at least {node['minimum']}"
    if "exclusiveMinimum" in node:
        low = f"above {node['exclusiveMinimum']}"
    if "maximum" in node:
        high = f"at most {node['maximum']}"
    if "exclusiveMaximum" in node:
        high = f"below {node['exclusiveMaximum']}"
    if "minimum" in node and "maximum" in node:
        return f"{node['minimum']} to {node['maximum']}"
    return ", ".join(part for part in (low, high) if part)


def allowed(node: dict) -> str:
    """What values the schema accepts beyond the type: choices, ranges, patterns, lengths."""
    parts = []
    if "enum" in node:
        parts.append(", ".join(code(literal(value)) for value in node["enum"]))
    if "anyOf" in node:
        options = [allowed(option) or (code(literal(option["const"])) if "const" in option else "")
                   for option in node["anyOf"]]
        parts.append(", or ".join(option for option in options if option))
    if bounds(node):
        parts.append(bounds(node))
    if "pattern" in node:
        parts.append("pattern " + code(node["pattern"]))
    if node.get("minLength") == 1:
        parts.append("not empty")
    elif "minLength" in node:
        parts.append(f"at least {node['minLength']} characters")
    items = node.get("items")
    if isinstance(items, dict) and "properties" not in items:
        count = ""
        if node.get("minItems") is not None and node.get("minItems") == node.get("maxItems"):
            count = f"{node['minItems']} items"
        each = allowed(items)
        parts.append(", ".join(part for part in (count, f"each {each}" if each else "") if part))
    return "; ".join(part for part in parts if part)


def default(node: dict, required: bool) -> str:
    if "default" in node:
        return code(literal(node["default"]))
    return "*required*" if required else "–"


def rows(node: dict, prefix: str, required: bool = False):
    """(dotted name, node, required) for `node` and every key below it, in the schema's order."""
    yield prefix, node, required
    names = set(node.get("required", []))
    for key, child in node.get("properties", {}).items():
        yield from rows(child, f"{prefix}.{key}", key in names)
    items = node.get("items")
    if isinstance(items, dict) and "properties" in items:
        names = set(items.get("required", []))
        for key, child in items["properties"].items():
            yield from rows(child, f"{prefix}[].{key}", key in names)


def schema_keys(schema: dict) -> list[str]:
    """Every key of the configuration as a dotted name, in the schema's order."""
    keys = []
    for key, node in schema.get("properties", {}).items():
        keys += [name for name, _, _ in rows(node, key)]
    return keys


def missing_descriptions(schema: dict) -> list[str]:
    """Dotted names of the keys whose schema has no description."""
    missing = []
    for key, node in schema.get("properties", {}).items():
        missing += [name for name, child, _ in rows(node, key) if not str(child.get("description", "")).strip()]
    return missing


def table(entries, link: Callable[[str], str]) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, node, required in entries:
        lines.append(f"| {code(name)} | {type_name(node)} | {default(node, required)} | {allowed(node)} "
                     f"| {linked(cell(node.get('description', '')), link)} |")
    return lines


def render(schema: dict, link: Callable[[str], str] = lambda path: "../" + path,
           schema_path: str = "schemas/config.schema.yaml") -> str:
    """The whole Markdown page for `schema`.

    `link` turns a path from the repository root into a link from the page's folder; `schema_path` is
    the schema's path from the repository root.
    """
    top_required = set(schema.get("required", []))
    sections = list(schema.get("properties", {}).items())
    lines = [
        HEADER,
        "",
        "# Configuration reference",
        "",
        cell(schema.get("description", "")),
        "",
        "Every key of `config.yaml` (or of the file given with `snakemake --configfile`), from the descriptions "
        f"in [{Path(schema_path).name}]({link(schema_path)}), which checks the configuration before any work starts. "
        "Nested keys are written with dots (`features.model`), and `[]` stands for each item of a list. "
        "*required* marks a key without a default that must be set when its section is there; "
        "`null` is written `null` (or left empty) in YAML.",
        "",
        "Sections: " + " · ".join(f"[{key}](#{key.lower()})" for key, _ in sections),
    ]
    for key, node in sections:
        lines += ["", f"## {key}", ""]
        entries = list(rows(node, key, key in top_required))
        if "properties" in node:
            if node.get("description"):
                lines += [linked(cell(sentence(node["description"])), link), ""]
            if key in top_required:
                lines += ["This section is required.", ""]
            entries = entries[1:]
        lines += table(entries, link)
    return "\n".join(lines) + "\n"


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def generate(schema_path: str | Path = DEFAULT_SCHEMA, out_path: str | Path = DEFAULT_OUT) -> str:
    """The page as it should be at `out_path` (links are relative to its folder).

    The repository root is taken to be the folder above the schema's folder.
    """
    schema_path, out_path = Path(schema_path).resolve(), Path(out_path).resolve()
    root = schema_path.parent.parent

    def link(path: str) -> str:
        return os.path.relpath(root / path, out_path.parent).replace(os.sep, "/")

    return render(load_schema(schema_path), link, schema_path.relative_to(root).as_posix())


def check(schema_path: str | Path = DEFAULT_SCHEMA, out_path: str | Path = DEFAULT_OUT) -> list[str]:
    """Problems with the page on disk (empty when it is what `generate` would write)."""
    out_path = Path(out_path)
    expected = generate(schema_path, out_path)
    if not out_path.exists():
        return [f"{display(out_path)} does not exist: run `{REGENERATE}` to generate it from "
                f"{display(Path(schema_path))}"]
    current = out_path.read_text(encoding="utf-8")
    if current == expected:
        return []
    diff = list(difflib.unified_diff(current.splitlines(), expected.splitlines(), "on disk", "generated",
                                     lineterm="", n=0))
    shown = "\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else "")
    return [f"{display(out_path)} is out of date with {display(Path(schema_path))}: run `{REGENERATE}` "
            f"(python scripts/config_reference.py) and commit the result; it is generated, never edited by "
            f"hand.\n{shown}"]


def write(schema_path: str | Path = DEFAULT_SCHEMA, out_path: str | Path = DEFAULT_OUT) -> Path:
    out_path = Path(out_path)
    text = generate(schema_path, out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(out_path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out_path)
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the configuration reference from the config schema.")
    parser.add_argument("--schema", default=str(DEFAULT_SCHEMA), help="the JSON schema of config.yaml (YAML)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the Markdown page to write or check")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the page differs from what would be generated")
    args = parser.parse_args(argv)
    schema_keys_without = missing_descriptions(load_schema(args.schema))
    if schema_keys_without:
        print(f"note: keys without a description in {display(Path(args.schema))}: {', '.join(schema_keys_without)}",
              file=sys.stderr)
    if args.check:
        problems = check(args.schema, args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"{display(Path(args.out))} is up to date")
        return 1 if problems else 0
    print(f"wrote {display(write(args.schema, args.out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
