"""Scoring candidates: the judge model (P(correct) from a small LM), its calibration, the
docstring-example signal, and ranking that combines them. Built on ``llm`` and ``base``."""
