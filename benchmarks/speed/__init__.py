"""Speed: latency, throughput and memory, ratios measured in one run (sampling, judge, lsp, context, implement)."""
