"""Evaluating a judge on labelled, scored candidates: classification, calibration and
ranking metrics (``metrics``), the figures that say whether it sees bugs (``bug_metrics``),
trivial baselines to read them beside (``baselines``), the tables, JSON and plots built
from them (``report``), and when a correctness hint may speak (``hint_calibration``)."""
