"""The llama.cpp layer: model files (resolution, checks), the batched engine, the one model
worker, prompt formats and generation. The only package that imports ``llama_cpp``."""
