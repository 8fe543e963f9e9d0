"""Fine-tuning a judge (transformers + peft LoRA on the GGUF base) and exporting it as a
LoRA GGUF with a manifest that llama.cpp and the server load. Needs the ``[train]`` extras.

Modules, in the order a run uses them:

- ``config``: ``TrainConfig`` (``winnow train``'s flags) and what may change on resume;
- ``environment``: the training stack's presence and versions, seeds, RNG states;
- ``pretrained``: GGUF facts, the cached transformers copy of the base (or a Hugging Face
  folder as it is), the tokenizer checked against llama.cpp;
- ``families``: what each supported base family (llama, qwen2, gemma3) needs between
  llama.cpp and transformers; ``hf_gguf``: a Hugging Face folder written as the GGUF that serves it;
- ``encoding``: the serving judge prompt as token ids, z under transformers;
- ``training_examples``: labels joined with problems (``TrainingExample``), the split by
  problem, tokenization;
- ``batching``: which examples go into which optimizer step (per example or per task);
- ``schedule``: each epoch's plan, the number of steps, warm-up and validations (``Schedule``);
- ``lora``: the LoRA model, AdamW and the learning rate's warm-up and decay;
- ``objective``: binary cross-entropy and the within-task pairwise term;
- ``validation``: the validation figures and the one that picks the best checkpoint;
- ``records``: what a run writes, as typed records (metrics, step log, config, summary);
- ``checkpoint``: the run folder (checkpoints, ``TrainerState``, best, log), loading a
  trained checkpoint;
- ``loop``: ``train`` — configure, data, model, loop, summary;
- ``export``: a checkpoint → llama.cpp adapter GGUF + ``judge.json``, with ``adapter_gguf``
  (the adapter file) and ``agreement`` (llama.cpp against transformers on the export).
"""
