"""Captions in other languages for full models: their English caption, machine-translated.

A translation model from the hub (MarianMT's ``opus-mt-en-xx``, or NLLB / M2M100) is exported
once to two ONNX graphs (``export``: encoder plus first step, then one decoding step), int8 like
the caption models, and served by ONNX Runtime and ``tokenizers`` alone (``translator``), so the
base install serves an exported translation folder as it serves an exported caption model.
``captioner`` wraps a full model so that it answers in every language configured in
``translation_models`` for which a model is on this machine (``sources``).
"""
