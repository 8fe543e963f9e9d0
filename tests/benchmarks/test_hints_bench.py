"""``winnow bench hints`` end to end on one small real module: the real server, the module
as released and with one bug per function, figures per group and kind of evidence."""

from __future__ import annotations

import json

import pytest
from cli_support import winnow


@pytest.mark.timeout(600)
def test_bench_hints_measures_a_real_module_through_the_real_server() -> None:
    proc = winnow("bench", "hints", "statistics", "--max-functions", "6", "--json", timeout=540)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    [module] = result["modules"]
    assert module["module"] == "statistics" and module["error"] == ""
    assert module["functions"] == 6 and module["changed"] <= 6
    assert module["flagged_functions"] == []  # released, tested code of the calibration list
    assert len(module["detected_functions"]) == module["detected_total"] <= module["changed"]
    for entry in module["detected_functions"]:  # "qualname: kind", a probe's kind with its origin
        kind = entry.split(": ", 1)[1]
        assert kind.startswith(("example:", "crash", "hang", "annotation", "test")), entry
        assert "@" in kind or kind.startswith(("example:", "test")), entry
    group = result["groups"]["selected"]
    assert group["functions"] == 6 and group["false_alarm_rate"] == 0.0
    assert group["max_open_to_last_hint_s"] is not None and result["cpus"] >= 1
