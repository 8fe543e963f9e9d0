"""Winnow's core library, with no editor protocol in it (``winnow.server`` adapts it to LSP).

Layers, each importing only the ones below it (checked by import-linter in CI, see
``[tool.importlinter]`` in pyproject.toml):

1. ``cli``         the command-line verbs (``winnow complete``, ``judge``, ``sample``, ``train`` …)
2. ``runtime``     one process's models behind one worker: what the server and ``complete`` call
   ``training``    fine-tune a judge (transformers + peft) and export it for llama.cpp
3. ``dataset``     problems, candidate sampling, behaviour-keeping rewrites and bugs, labelling
   ``evaluation``  metrics and reports over labelled, scored candidates
4. ``scoring``     the judge model, calibration, docstring examples, ranking
5. ``llm``         model files, the llama.cpp engine and its worker, prompts, generation
                   (the only importer of ``llama_cpp``)
6. ``base``        errors, JSONL, Python source analysis, the sandbox

Siblings on one line do not import each other. Everything is usable from a notebook.
"""
