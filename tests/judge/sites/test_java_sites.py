"""Function sites of Java through tree-sitter: headers with their Javadoc, footers kept on a
rewrite, stubs as Java writes them, qualnames through nested classes; Python unchanged."""

from __future__ import annotations

import pytest

from winnow.judge.sites import (
    function_code,
    functions,
    judge_task,
    language_of,
    parses,
    replace_function,
    syntax_error,
)
from winnow.judge.sites.python import python_functions

JAVA = """package demo;

import java.util.List;

/** Maths helpers. */
public class Calc {
    /**
     * Greatest common divisor.
     *
     * {@code gcd(35, 21) == 7}
     */
    public static int gcd(int a, int b) {
        throw new UnsupportedOperationException("TODO");
    }

    @Override
    public String toString() { return "Calc"; }

    public int generated() {
        // TODO Auto-generated method stub
        return 0;
    }

    void empty() {}

    Calc() {}

    static class Inner {
        /** Twice. */
        int twice(int x) {
            return 2 * x;
        }
    }
}
"""


def by_name(source: str = JAVA) -> dict[str, object]:
    return {s.qualname: s for s in functions(source, "java")}


def test_java_sites_have_their_javadoc_header_footer_and_qualname() -> None:
    sites = by_name()
    assert list(sites) == ["Calc.gcd", "Calc.toString", "Calc.generated", "Calc.empty", "Calc.Calc", "Calc.Inner.twice"]
    gcd = sites["Calc.gcd"]
    lines = JAVA.split("\n")
    assert lines[gcd.start_line].strip() == "/**"  # the header starts at its Javadoc
    assert lines[gcd.def_line].strip().startswith("public static int gcd(")
    assert gcd.header.endswith("public static int gcd(int a, int b) {\n")
    assert gcd.footer == "    }\n" and gcd.code.endswith("    }\n")
    assert gcd.docstring.strip() == "Greatest common divisor.\n\n{@code gcd(35, 21) == 7}"
    # A Javadoc line i is the file's line docstring_line + i: hints point at the example.
    assert lines[gcd.docstring_line + 3].strip() == "* {@code gcd(35, 21) == 7}"
    assert gcd.outer == "public class Calc {\n" and gcd.language == "java" and gcd.indent == 4
    assert sites["Calc.Inner.twice"].outer == "public class Calc {\n    static class Inner {\n"


def test_java_stubs_are_what_java_writes_for_not_done_yet() -> None:
    stubs = {q for q, s in by_name().items() if s.is_stub}
    # UnsupportedOperationException, an IDE's TODO + default return, an empty method; an
    # empty constructor is ordinary code and a written method is not a stub.
    assert stubs == {"Calc.gcd", "Calc.generated", "Calc.empty"}


def test_a_rewritten_java_method_keeps_the_file_parsing_and_everything_else() -> None:
    sites = by_name()
    for name, body in (("Calc.gcd", "        return b == 0 ? a : gcd(b, a % b);\n"), ("Calc.toString", '        return "x";\n')):
        site = sites[name]
        new = replace_function(JAVA, site, function_code(site, body))
        assert parses(new, "java"), new
        assert body in new
        after = by_name(new)[name]
        assert after.header == site.header and not after.is_stub
        assert new.count("\n") >= JAVA.count("\n")
    assert JAVA.startswith("package demo;") and parses(JAVA, "java")


def test_the_judge_task_is_the_class_then_the_header() -> None:
    gcd = by_name()["Calc.gcd"]
    task = judge_task(JAVA, gcd)
    assert task.startswith("import java.util.List;\n\npublic class Calc {\n    /**\n")
    assert task.endswith("public static int gcd(int a, int b) {\n")


def test_broken_java_is_reported_not_raised() -> None:
    assert syntax_error("class A { int f() { return 1 } }", "java") == "line 1: missing ;"
    assert syntax_error("class A { }", "java") is None
    # A file mid-edit still yields the methods tree-sitter can see.
    assert "f" in {s.name for s in functions("class A {\n  int f() {\n    return 1;\n  }\n  int g( {\n", "java")}


def test_python_sites_are_the_ast_ones_and_unknown_languages_have_none() -> None:
    source = "def f(x):\n    '''Doc.'''\n    return x\n"
    assert functions(source, "python") == python_functions(source)
    assert functions(source, "cobol") == []


@pytest.mark.parametrize(("path", "language_id", "expected"), [
    ("file:///a/B.java", None, "java"), ("file:///a/b.py", "python", "python"),
    ("file:///a/b.txt", "java", "java"), ("file:///a/b.rs", None, None),
])  # fmt: skip
def test_language_of_a_document(path: str, language_id: str | None, expected: str | None) -> None:
    assert language_of(path, language_id) == expected


def test_the_outline_of_a_java_file_is_its_declarations() -> None:
    from winnow.judge.sites import outline

    text = outline(JAVA, "java")
    assert text.splitlines()[:3] == ["public class Calc {", "    public static int gcd(int a, int b);", "    public String toString();"]
    assert "    static class Inner {\n        int twice(int x);\n" in text
    assert "@Override" not in text and "/**" not in text and outline("def f(): pass\n", "python") == ""
