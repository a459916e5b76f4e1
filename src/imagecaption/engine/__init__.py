"""Runs a captioner behind a bounded queue, a dynamic batcher and a content-hash cache."""

from imagecaption.engine.engine import CaptionEngine, EngineState, Handed

__all__ = ["CaptionEngine", "EngineState", "Handed"]
