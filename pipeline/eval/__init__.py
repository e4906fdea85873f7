"""Offline evaluations (`aisle eval ...`): each module computes a report dict and renders it."""
