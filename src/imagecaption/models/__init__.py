"""Captioning backends, all behind the :class:`~imagecaption.models.base.Captioner` interface."""
