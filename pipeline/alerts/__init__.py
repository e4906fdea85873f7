"""Price alerts and auto-buy: the registry core, the phrase parser, and what a firing produces."""
