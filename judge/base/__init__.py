"""Base layer: errors, JSONL files, Python source analysis, the sandbox, numeric helpers.

Imports nothing else from ``winnow``.
"""
