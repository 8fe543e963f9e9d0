"""Javadoc examples run with the JDK in the real sandbox, compared by value: the evidence a
Java hint rests on, and the ranking signal of a best-of-N on a Java method."""

from __future__ import annotations

import shutil

import pytest

from winnow.judge.evidence.java.probe import parameter_count, target_of
from winnow.judge.evidence.java.runs import java_evidence, run_java_examples
from winnow.judge.sites import functions

pytestmark = pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac) on PATH")

CALC = """package demo;

import java.util.ArrayList;
import java.util.List;

public class Calc {
    /**
     * Greatest common divisor.
     *
     * {@code gcd(35, 21) == 7}
     * {@code gcd(4, 6) == 2}
     */
    public static int gcd(int a, int b) {
        return a;
    }

    /** The digits. {@code digits(123).equals(List.of(1, 2, 3))} */
    private List<Integer> digits(int n) {
        List<Integer> out = new ArrayList<>();
        for (char c : String.valueOf(n).toCharArray()) out.add(c - '0');
        return out;
    }

    /** Never ends. {@code spin(1) == 1} */
    static int spin(int x) { while (true) { } }

    /** @return 6 for 123, 0 for 0 */
    static long digitSum(long n) { return n == 0 ? 0 : n % 10 + digitSum(n / 10); }

    /**
     * Parses.
     * @throws NumberFormatException on junk, e.g. {@code parse("x") == 0}
     */
    static int parse(String s) { return Integer.parseInt(s); }
}
"""


def site(name: str, source: str = CALC):  # type: ignore[no-untyped-def]
    return next(s for s in functions(source, "java") if s.name == name)


def test_targets_and_parameters() -> None:
    assert parameter_count(site("gcd")) == 2 and parameter_count(site("digits")) == 1
    assert target_of(CALC, site("gcd")).receiver == ""  # static: called as written
    assert target_of(CALC, site("digits")).receiver == "new Calc()."  # private instance method
    no_ctor = CALC.replace("public class Calc {", "public class Calc {\n    Calc(int x) { }")
    assert target_of(no_ctor, site("digits", no_ctor)) is None  # nothing the probe can construct


def test_evidence_by_value_on_the_file_as_it_is() -> None:
    ev = java_evidence(CALC, [s for s in functions(CALC, "java")])
    assert ev.status == "loaded", ev.error
    gcd = ev.functions["Calc.gcd"]
    assert [(e.source, e.want, e.got, e.outcome) for e in gcd.examples] == [
        ("gcd(35, 21)", "7", "35", "value"), ("gcd(4, 6)", "2", "4", "value"),
    ]  # fmt: skip
    assert gcd.examples[0].line == 3  # the Javadoc's line of the example
    assert [e.outcome for e in ev.functions["Calc.digits"].examples] == ["passed"]  # List vs ArrayList, by value
    assert [e.outcome for e in ev.functions["Calc.digitSum"].examples] == ["passed", "passed"]  # long vs int
    assert [e.outcome for e in ev.functions["Calc.spin"].examples] == ["timeout"]
    assert ev.functions["Calc.parse"].examples == ()  # an exception its Javadoc names is no evidence


def test_candidates_run_together_and_one_that_does_not_compile_fails_alone() -> None:
    gcd = site("gcd")
    good = "    public static int gcd(int a, int b) {\n        return b == 0 ? a : gcd(b, a % b);\n    }\n"
    wrong = "    public static int gcd(int a, int b) {\n        return a * b;\n    }\n"
    broken = "    public static int gcd(int a, int b) {\n        return undefinedName;\n    }\n"
    run = run_java_examples(CALC, gcd, [good, wrong, broken])
    assert run.original.status == "failed"
    assert [c.status for c in run.candidates] == ["passed", "failed", "failed"]
    assert run.candidates[2].reason.startswith("does not compile")
    assert [r.got for r in run.candidates[1].records] == ["735", "24"]


def test_a_file_that_does_not_compile_alone_is_no_evidence() -> None:
    broken = CALC.replace("import java.util.List;", "import com.example.Missing;\nimport java.util.List;")
    ev = java_evidence(broken, [site("gcd", broken)])
    assert ev.status == "failed" and "does not compile" in ev.error
    assert ev.functions == {}
