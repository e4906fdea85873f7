"""Account memory: what a shopper told us about themselves, kept per user (docs/memory.md)."""
