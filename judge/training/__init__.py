"""Fine-tuning a judge (transformers + peft LoRA on the GGUF base) and exporting it as a
LoRA GGUF with a manifest that llama.cpp and the server load. Needs the ``[train]`` extras.

Modules, in the order a run uses them:

- ``config``: ``TrainConfig`` (``winnow train``'s flags) and what may change on resume;
- ``environment``: the training stack's presence and versions, seeds, RNG states;
- ``pretrained``: GGUF facts, the cached transformers copy of the base, the tokenizer
  checked against llama.cpp;
- ``encoding``: the serving judge prompt as token ids, z under transformers;
- ``training_examples``: labels joined with problems (``TrainingExample``), the split by
  problem, tokenization;
- ``batching``: which examples go into which optimizer step (per example or per task);
- ``objective``: binary cross-entropy and the within-task pairwise term;
- ``checkpoint``: the run folder (checkpoints, trainer state, best, log), loading a
  trained checkpoint;
- ``loop``: ``train`` — setup, data, model, loop, summary;
- ``export``: a checkpoint → llama.cpp adapter GGUF + ``judge.json``, with ``adapter_gguf``
  (the adapter file) and ``agreement`` (llama.cpp against transformers on the export).
"""
