"""Full captioning models through transformers: one captioner, small per-architecture adapters,
and two runtimes (torch, and an ONNX Runtime export with optional int8).

Everything here needs the ``models`` extra; the registry imports it only when a full model is
asked for.
"""
