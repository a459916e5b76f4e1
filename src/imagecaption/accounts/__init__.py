"""API keys, plans, credits, rate limits and usage, behind the AccountStore interface."""
