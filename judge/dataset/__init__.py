"""Data for training and evaluating judges: problems, candidates sampled from a generator,
variants (behaviour-keeping rewrites and single-point bugs; Java's in ``java/``), functions
mined from real code, labels from the sandbox, and the JSONL records they pass on (``records``)."""
