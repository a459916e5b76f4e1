"""Full captioning models through transformers: one captioner, small per-architecture adapters,
and two runtimes (torch, and an ONNX Runtime export with optional int8).

Most of it needs the ``models`` extra, which the registry imports only when a full model is asked
for; an exported folder (``exported``) and a ready ONNX export in the Optimum / transformers.js
layout (``ready_onnx``) are served by the modules that import neither torch nor transformers:
``exported``, ``ready_onnx``, ``captioner``, ``preprocessing``, ``onnx_graphs``,
``graph_runtime``, ``decoding`` and ``spec``.
"""
