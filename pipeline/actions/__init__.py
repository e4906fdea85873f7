"""Cart, order and alert actions, taken only on the shopper's own explicit request."""
