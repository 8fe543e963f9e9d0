"""Java's backend of the function sites: tree-sitter, through the query file of its grammar.

Other languages than Python are read with tree-sitter (judge/base/grammars.py, a query file
per grammar in judge/data/queries/); Java is the first. A Java site's header is its Javadoc,
annotations and signature up to the body's ``{``; its footer is the closing ``}`` line, kept
when the body is replaced.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from winnow.judge.base import grammars
from winnow.judge.sites.site import FunctionSite, source_lines

if TYPE_CHECKING:
    from tree_sitter import Node

#: Declarations whose name a Java method's qualname carries.
_JAVA_CLASSES = ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration")
_COMMENTS = ("line_comment", "block_comment")
_TODO = re.compile(r"\b(TODO|FIXME|XXX)\b|not (yet )?implemented", re.IGNORECASE)
#: Exceptions whose throw, alone in a body, marks a method as not written yet.
_STUB_EXCEPTIONS = frozenset({"UnsupportedOperationException", "NotImplementedException"})
_DEFAULT_RETURNS = frozenset({"null", "0", "0L", "0l", "0.0", "0.0f", "0f", "0.0d", "false", '""', "' '"})


def tree_syntax_error(code: str, language: str) -> str | None:
    """Where ``code`` first fails to parse in a tree-sitter grammar (``line 3: unexpected '}'``), or None."""
    tree = grammars.parser(language).parse(code.encode("utf-8"))
    if not tree.root_node.has_error:
        return None
    bad = _first_error(tree.root_node)
    if bad is None:
        return "does not parse"
    what = "missing " + bad.type if bad.is_missing else f"unexpected {bad.text.decode('utf-8', 'replace')[:20]!r}"
    return f"line {bad.start_point[0] + 1}: {what}"


def _first_error(node: Node) -> Node | None:
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing or child.is_error:
            found = _first_error(child)
            if found is not None:
                return found
    return None


def java_functions(source: str) -> list[FunctionSite]:
    """Java methods and constructors with a body (interface and abstract methods have none)."""
    data = source.encode("utf-8")
    tree = grammars.parser("java").parse(data)
    lines = data.splitlines(keepends=True)
    starts = _line_starts(lines)
    sites = [_java_site(m, data, lines, starts) for m in grammars.matches("java", tree.root_node)]
    return sorted(sites, key=lambda s: s.start_line)


def _line_starts(lines: list[bytes]) -> list[int]:
    out, at = [], 0
    for line in lines:
        out.append(at)
        at += len(line)
    out.append(at)
    return out


def _java_site(match: dict[str, list[Node]], data: bytes, lines: list[bytes], starts: list[int]) -> FunctionSite:
    fn, body, name = match["function"][0], match["body"][0], match["name"][0]
    doc = _javadoc_before(fn)
    first = doc if doc is not None else fn
    start = first.start_point[0]
    open_row = body.start_point[0]
    close_row = body.end_point[0]
    indent_text = _indent(lines[start] if start < len(lines) else b"")
    header = data[starts[start] : body.start_byte + 1].decode("utf-8", "replace") + "\n"
    close_line_end = starts[close_row + 1] if close_row + 1 < len(starts) else len(data)
    close_brace = body.end_byte - 1
    if data[starts[close_row] : close_brace].strip():  # ``{ ... }`` closes on a line with code
        footer = indent_text + data[close_brace:close_line_end].decode("utf-8", "replace")
    else:
        footer = data[starts[close_row] : close_line_end].decode("utf-8", "replace")
    if not footer.endswith("\n"):
        footer += "\n"
    code = data[starts[start] : close_line_end].decode("utf-8", "replace")
    classes = _enclosing_classes(fn)
    qual = ".".join([_name(c) for c in classes] + [name.text.decode("utf-8", "replace")])
    outer = "".join(
        _indent(lines[c.start_point[0]]) + _declaration_line(c, data) + "\n" for c in classes
    )
    return FunctionSite(
        name=name.text.decode("utf-8", "replace"),
        start_line=start,
        header_end_line=open_row + 1,
        end_line=close_row + 1,
        indent=len(indent_text.expandtabs(4)),
        docstring=_clean_javadoc(doc.text.decode("utf-8", "replace")) if doc is not None else None,
        is_stub=_java_stub(fn, body),
        header=header,
        code=code if code.endswith("\n") else code + "\n",
        qualname=qual,
        docstring_line=doc.start_point[0] if doc is not None else None,
        language="java",
        footer=footer,
        outer=outer,
        name_line=name.start_point[0],
    )


def _indent(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text[: len(text) - len(text.lstrip(" \t"))]


def _javadoc_before(fn: Node) -> Node | None:
    """The ``/** ... */`` comment right before ``fn`` (blank lines and other comments between
    them break the tie: a Javadoc belongs to the next declaration only)."""
    prev = fn.prev_sibling
    if prev is None or prev.type != "block_comment" or not prev.text.startswith(b"/**"):
        return None
    return prev if fn.start_point[0] - prev.end_point[0] <= 1 else None


def _clean_javadoc(text: str) -> str:
    """The Javadoc's text without ``/**``, ``*/`` and the leading ``*``: line i of it is line i
    of the comment (so an example's line points into the file)."""
    body = text.removeprefix("/**").removesuffix("*/")
    out = []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("*"):
            stripped = stripped[1:]
            stripped = stripped[1:] if stripped.startswith(" ") else stripped
        out.append(stripped.rstrip())
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _enclosing_classes(fn: Node) -> list[Node]:
    out = []
    node = fn.parent
    while node is not None:
        if node.type in _JAVA_CLASSES:
            out.append(node)
        node = node.parent
    return list(reversed(out))


def _name(decl: Node) -> str:
    name = decl.child_by_field_name("name")
    return name.text.decode("utf-8", "replace") if name is not None else "?"


def _declaration_line(decl: Node, data: bytes) -> str:
    """``public class Solution {``: the declaration up to its body's brace, on one line."""
    body = decl.child_by_field_name("body")
    end = body.start_byte + 1 if body is not None else decl.end_byte
    text = data[decl.start_byte : end].decode("utf-8", "replace")
    return " ".join(text.split())


def _java_stub(fn: Node, body: Node) -> bool:
    """Empty (a method's, or a constructor's holding a TODO), a lone ``throw new
    UnsupportedOperationException(…)``, or a TODO comment with at most a default return
    (what IDEs generate)."""
    statements = [c for c in body.named_children if c.type not in _COMMENTS]
    comments = [c.text.decode("utf-8", "replace") for c in body.named_children if c.type in _COMMENTS]
    todo = any(_TODO.search(c) for c in comments)
    if not statements:
        return todo or fn.type == "method_declaration"
    if len(statements) != 1:
        return False
    only = statements[0]
    if only.type == "throw_statement":
        return _thrown_type(only) in _STUB_EXCEPTIONS
    if only.type == "return_statement" and todo:
        value = [c for c in only.named_children if c.type not in _COMMENTS]
        return not value or value[0].text.decode("utf-8", "replace") in _DEFAULT_RETURNS
    return False


def _thrown_type(throw: Node) -> str:
    created = next((c for c in throw.named_children if c.type == "object_creation_expression"), None)
    if created is None:
        return ""
    kind = created.child_by_field_name("type")
    return kind.text.decode("utf-8", "replace").rsplit(".", 1)[-1] if kind is not None else ""


def java_judge_task(site: FunctionSite, imports: list[str]) -> str:
    """The judge's task for a non-Python site, shaped like the Java problems it is measured
    on: imports, the declarations around it, then its header."""
    head = "".join(imports)
    return (head + "\n" if head else "") + site.outer + site.header


def java_imports(source: str) -> list[str]:
    """The file's ``import`` lines (a candidate compiled alone needs them)."""
    return [line + "\n" for line in source.splitlines() if line.startswith("import ")]


def java_body(code: str, name: str) -> str | None:
    """The body (after the header, before its closing brace's line) of the last method
    ``name`` of ``code``, or None when there is none."""
    sites = [s for s in java_functions(code) if s.name == name]
    if not sites:
        return None
    site = sites[-1]
    body = "".join(source_lines(code)[site.header_end_line : site.end_line])
    return body[: len(body) - len(site.footer)] if site.footer and body.endswith(site.footer) else body


def java_outline(source: str) -> str:
    """The declarations of a Java file as a stub (each class's declaration line, then its
    methods' signatures ending in ``;``): what workspace context shows of it, the way
    Python files show their definitions' stubs."""
    lines: list[str] = []
    seen: set[str] = set()
    for site in java_functions(source):
        for decl in site.outer.splitlines():
            if decl not in seen:
                seen.add(decl)
                lines.append(decl)
        signature = site.header[site.header.rfind("\n", 0, len(site.header) - 1) + 1 :].rstrip("\n")
        if "(" not in signature:  # a signature over several lines: take them all after the Javadoc
            signature = site.header.split("*/")[-1].strip("\n")
        lines.append(signature.rstrip().removesuffix("{").rstrip() + ";")
    return "\n".join(lines) + ("\n" if lines else "")


class Java:
    """The ``Language`` backend for Java (``sites.site.Language``)."""

    name = "java"
    suffixes = (".java",)
    doc_comment = "Javadoc"
    noun = "Java method"
    line_comment = "//"
    definition_keyword = ""
    rewrites_whole_function = True  # the header as written, the body, the closing brace

    def functions(self, source: str) -> list[FunctionSite]:
        return java_functions(source)

    def first_to_implement(self, sites: list[FunctionSite]) -> FunctionSite | None:
        """The first documented stub, else the first stub, else the first method."""
        documented = [s for s in sites if s.is_stub and s.docstring]
        return (documented or [s for s in sites if s.is_stub] or sites or [None])[0]

    def parses(self, code: str) -> bool:
        return tree_syntax_error(code, self.name) is None

    def syntax_error(self, code: str) -> str | None:
        """A whole file (a problem's class) or a method alone: it parses inside a class."""
        error = tree_syntax_error(code, self.name)
        if error is not None:
            error = tree_syntax_error("class WinnowWrap {\n" + code + "\n}\n", self.name) and error
        return error

    def undefined_names(self, code: str) -> list[str]:
        return []  # javac says it when the examples compile

    def judge_task(self, source: str, site: FunctionSite, helpers: str = "") -> str:
        return java_judge_task(site, java_imports(source))

    def function_body(self, code: str, name: str) -> str | None:
        return java_body(code, name)

    def outline(self, source: str) -> str:
        return java_outline(source)

    def takes_body(self, site: FunctionSite) -> bool:
        return True  # any method with a body: its edit rewrites the whole method
