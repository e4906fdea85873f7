"""The generate stage's pure parts: the prompt, the grounding guard, the stated evidence, and the degraded answer."""
