"""onnxruntime sessions set up the same way for every ONNX model the service runs."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

ERRORS_ONLY = 3


def create_session(
    model: Path | bytes, threads: int, *, spin: bool = False
) -> ort.InferenceSession:
    """A CPU session using ``threads`` cores for each operator (0: onnxruntime picks all cores).

    The engine runs one batch at a time, so parallelism across operators would only add thread
    hand-offs; and warnings about declared versus actual output shapes are noise for these models.
    Idle pool threads sleep instead of spinning: a spinning thread takes a core from the event
    loop, the pre-processing threads and the other sessions of the same captioner. Over HTTP on
    2 cores that cut the offline captioner's p50 from 48 to 28 ms and left the full model's
    unchanged (262 / 258 ms).

    ``spin`` lets them spin instead, for a full model whose caption is hundreds of operators in
    a row on the same pool: each operator otherwise pays for waking the sleeping threads. On a
    quiet 2-core Xeon (AMX) that cut GIT-base's int8 decoder step from 6.4 to 4.4 ms and its
    prefill from 88 to 69 ms; under other work's load it was slower (the spinning thread takes
    time the other work would give back), hence ``full_model_spin_wait``.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = ERRORS_ONLY
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
