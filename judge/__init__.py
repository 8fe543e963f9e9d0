"""Winnow's core library: models, the llama.cpp engine, prompts, the judge, ranking,
the sandbox, data sets, labelling, training, evaluation and export.

No editor protocol lives here (``winnow.server`` adapts this package to LSP), so
everything is usable from a notebook or a script.
"""
