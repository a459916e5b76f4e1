"""Pictures with text, what they say, and how far a reader's lines are from it."""
