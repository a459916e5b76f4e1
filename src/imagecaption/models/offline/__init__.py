"""The offline default captioner: an object detector, a face detector and an ImageNet
classifier, put into words; every model ships in the package."""

from imagecaption.models.offline.captioner import OfflineCaptioner

__all__ = ["OfflineCaptioner"]
