"""Data for training and evaluating judges: problems, candidates sampled from a generator,
variants (behaviour-keeping rewrites and single-point bugs) and labels from the sandbox."""
