"""The settings list has one source, ``winnow.server.lsp.settings.schema()``: the
documented table (docs/settings.md) must match it path for path, type, bounds and
default. The extension's own tests (client-vscode/test/settings.test.ts) check its
package.json and settings.ts against the same table, so none of the four can drift."""

from __future__ import annotations

import json
import re
from pathlib import Path

from winnow.server.lsp.settings import schema

ROOT = Path(__file__).resolve().parents[3]
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*`([^`]+)`\s*\|(.*)\|\s*$")


def doc_rows() -> dict[str, tuple[str, object]]:
    rows: dict[str, tuple[str, object]] = {}
    for line in (ROOT / "docs" / "settings.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), json.loads(m.group(3)))
    return rows


def doc_type(prop: dict[str, object]) -> str:
    """How docs/settings.md spells a property's type column."""
    if "enum" in prop:
        return ", ".join(f'`"{v}"`' for v in prop["enum"])  # type: ignore[union-attr]
    if "minimum" in prop:
        lo = f"{prop['minimum']:g}"
        return f"{prop['type']} {lo}–{prop['maximum']:g}" if "maximum" in prop else f"{prop['type']} ≥ {lo}"
    return str(prop["type"])


def test_docs_list_exactly_the_server_settings_in_order() -> None:
    assert list(doc_rows()) == list(schema())


def test_docs_give_each_setting_its_type_bounds_and_default() -> None:
    rows = doc_rows()
    for path, prop in schema().items():
        documented_type, documented_default = rows[path]
        assert documented_type == doc_type(prop), path
        assert documented_default == prop["default"], path


def test_package_json_declares_the_same_bounds_and_defaults() -> None:
    package = json.loads((ROOT / "client-vscode" / "package.json").read_text(encoding="utf-8"))
    properties = package["contributes"]["configuration"]["properties"]
    for path, prop in schema().items():
        declared = properties[f"winnow.{path}"]
        assert {k: declared.get(k) for k in ("type", "default", "minimum", "maximum", "enum")} == {
            k: prop.get(k) for k in ("type", "default", "minimum", "maximum", "enum")
        }, path


def test_settings_ts_sends_exactly_the_server_settings() -> None:
    source = (ROOT / "client-vscode" / "src" / "settings.ts").read_text(encoding="utf-8")
    block = source.split("export const SERVER_SETTING_KEYS = [", 1)[1].split("] as const;", 1)[0]
    assert re.findall(r"'([^']+)'", block) == list(schema())
