"""Evaluating a judge on labelled, scored candidates: classification, calibration and
ranking metrics (``metrics``) and the tables, JSON and plots built from them (``report``)."""
