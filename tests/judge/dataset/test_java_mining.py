"""The Java front end of ``winnow mine``: methods of a Java tree (or a src.zip) as problems
shaped like the Java problems, the method as released passed and its single-point bugs failed."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from winnow.judge.dataset.java.mining import java_records_for, java_sources, mine_java
from winnow.judge.sites import parses

CALC = """package acme.util;

public class Calc {
    /** The larger of a and b. */
    public static int max(int a, int b) {
        if (a > b) {
            return a;
        }
        return b;
    }

    int unwritten() {
        throw new UnsupportedOperationException();
    }

    static class Inner {
        int twice(int x) {
            int y = x + x;
            return y;
        }
    }
}
"""


def tree(root: Path) -> Path:
    for package in ("acme", "other"):
        path = root / package / "src" / "Calc.java"
        path.parent.mkdir(parents=True)
        path.write_text(CALC.replace("Calc", "Calc" if package == "acme" else "Calc2"))
    (root / "acme" / "test").mkdir()
    (root / "acme" / "test" / "CalcTest.java").write_text(CALC)  # tests are left out
    return root


def test_methods_become_problems_that_parse_alone(tmp_path: Path) -> None:
    found = mine_java([tree(tmp_path)], seed=0)
    assert sorted((m.package, m.qualname) for m in found) == [
        ("acme", "Calc.Inner.twice"), ("acme", "Calc.max"), ("other", "Calc2.Inner.twice"), ("other", "Calc2.max"),
    ]  # fmt: skip (the stub is not mined; neither is the test)
    twice = next(m for m in found if m.qualname == "Calc.Inner.twice")
    assert twice.prompt == "public class Calc {\n    static class Inner {\n        int twice(int x) {\n"
    assert parses(twice.code, "java") and twice.code.endswith("        }\n    }\n}\n")
    problem, labels = java_records_for(twice, 3, seed=0)
    assert problem["language"] == "java" and problem["reference"] == twice.code
    assert labels[0]["status"] == "passed" and {r["status"] for r in labels[1:]} == {"failed"} and len(labels) >= 2
    assert all(parses(r["code"], "java") for r in labels) and len({r["code"] for r in labels}) == len(labels)


def test_a_src_zip_is_read_like_a_tree(tmp_path: Path) -> None:
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("java.base/acme/Calc.java", CALC)
        z.writestr("java.base/acme/test/Skip.java", CALC)
    assert [(pkg, path.endswith("!java.base/acme/Calc.java")) for pkg, path, _ in java_sources(archive)] == [("java.base", True)]


def test_the_mine_verb_with_language_java(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "winnow.cli", "mine", str(tree(tmp_path / "src")), "--language", "java", "--out", str(out),
         "--variants", "3", "--heldout", "other", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    split = json.loads((out / "split.json").read_text())
    assert split["heldout_packages"] == ["other"] and split["train_packages"] == ["acme"]
    train = [json.loads(x) for x in (out / "train.jsonl").read_text().splitlines()]
    assert train and all(r["problem_id"].startswith("mined-java:acme:") for r in train)
