"""The documentation: the generated configuration reference is current and complete, every relative link
in the README and docs/ leads somewhere, and the README stays short."""
import re
from pathlib import Path
from urllib.parse import unquote

import yaml

import config_reference

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
REFERENCE = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
README_LIMIT = 10_500  # bytes: "under about 10 KB"

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+).+?\1", re.S)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def markdown_pages():
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def without_code(text):
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(path):
    """The heading anchors GitHub makes for a Markdown file (lower case, punctuation dropped, - for spaces)."""
    seen, result = {}, set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_links(path):
    for target in LINK.findall(without_code(path.read_text(encoding="utf-8"))):
        if not target or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", target) or target.startswith("//"):
            continue  # web addresses and mailto: are not checked
        yield target


def schema_keys(node, prefix=""):
    """Every key of the schema as a dotted name, '[]' for the items of a list (walked here, not by the
    generator, so that a key the generator skipped is caught)."""
    for key, child in node.get("properties", {}).items():
        name = f"{prefix}{key}"
        yield name, child
        yield from schema_keys(child, name + ".")
        if isinstance(child.get("items"), dict):
            yield from schema_keys(child["items"], name + "[].")


def test_configuration_reference_is_generated_from_the_current_schema():
    assert REFERENCE.exists(), "docs/configuration.md is missing: run `make docs` (python scripts/config_reference.py)"
    expected = config_reference.generate(SCHEMA, REFERENCE)
    if REFERENCE.read_text(encoding="utf-8") != expected:
        problems = config_reference.check(SCHEMA, REFERENCE)
        raise AssertionError("\n".join(problems) or "docs/configuration.md is out of date: run `make docs`")


def test_every_schema_key_is_in_the_reference_with_a_description():
    page = REFERENCE.read_text(encoding="utf-8")
    keys = list(schema_keys(yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))))
    assert len(keys) > 50
    headings = set(re.findall(r"^## (\S+)$", page, re.M))  # a section (collection, features...) is a heading
    missing = [name for name, _ in keys if f"`{name}`" not in page and name not in headings]
    assert not missing, f"keys of the schema missing from docs/configuration.md (run `make docs`): {missing}"
    undescribed = [name for name, node in keys if not str(node.get("description", "")).strip()]
    assert not undescribed, f"give these keys a description in schemas/config.schema.yaml: {undescribed}"


def test_every_relative_link_in_the_readme_and_docs_leads_somewhere():
    broken = []
    for page in markdown_pages():
        for target in relative_links(page):
            path_part, _, fragment = target.partition("#")
            destination = (page.parent / unquote(path_part)).resolve() if path_part else page
            where = f"{page.relative_to(ROOT)}: ({target})"
            if not destination.exists():
                broken.append(f"{where} points to a missing file")
            elif fragment and destination.suffix == ".md" and unquote(fragment) not in anchors(destination):
                broken.append(f"{where} points to a missing heading")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in relative_links(README)}
    unlinked = [page.name for page in sorted((ROOT / "docs").glob("*.md")) if page.resolve() not in linked]
    assert not unlinked, f"docs pages not reachable from README.md: {unlinked}"


def test_the_readme_stays_short():
    size = README.stat().st_size
    assert size < README_LIMIT, (f"README.md is {size} bytes; keep it under {README_LIMIT} "
                                 "and move detail to a page in docs/")


def test_the_link_checker_sees_links_and_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title (`x`, 2026-11-25)\n\n## Two words\n\n## Two words\n\n"
                    "[a](other.md#x) ![b](pic.png) `[c](in-code.md)`\n\n```\n[d](fenced.md)\n```\n"
                    "[e](https://example.org/) [f](#two-words-1)\n")
    assert list(relative_links(page)) == ["other.md#x", "pic.png", "#two-words-1"]
    assert anchors(page) == {"a-title-x-2026-11-25", "two-words", "two-words-1"}
