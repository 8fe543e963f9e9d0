"""Fine-tuning a judge (transformers + peft LoRA on the GGUF base) and exporting it as a
LoRA GGUF with a manifest that llama.cpp and the server load. Needs the ``[train]`` extras."""
