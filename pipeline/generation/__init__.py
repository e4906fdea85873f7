"""The generate stage's pure parts: the prompt, token coalescing, and the degraded answer."""
