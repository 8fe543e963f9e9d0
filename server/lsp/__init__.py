"""The protocol floor: what every part of the server shares.

The pygls protocol class (lenient input), request failures as JSON-RPC errors, the
user-facing messages and ``winnow/status``, the typed settings tree, the cancel flag and
the package version. Nothing here knows a feature, a document or a model.
"""
