"""Feedback aggregation: thumbs and action outcomes per intent, model and prompt version."""
