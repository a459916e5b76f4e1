"""The offline default captioner: an ImageNet classifier and a face detector, put into words."""

from imagecaption.models.offline.captioner import OfflineCaptioner

__all__ = ["OfflineCaptioner"]
