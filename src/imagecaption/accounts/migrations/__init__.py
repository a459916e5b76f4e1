"""Alembic migrations of the account schema; run them through imagecaption.accounts.schema."""
