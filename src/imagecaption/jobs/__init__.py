"""Batch jobs: many images in one request, captioned by every replica's queue workers.

``store`` keeps jobs and each image's state in the accounts database (the image's state and its
charge change in one transaction), ``queue`` spreads the work through huey, ``runner`` captions
claimed images through the engine's lower-priority lane, ``webhook`` signs and delivers the
summary when a job ends, and ``sweeper`` finds lost work and due webhooks.
"""
