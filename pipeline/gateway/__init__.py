"""The websocket gateway and the web chat (docs/gateway.md)."""

from pipeline.gateway.app import create_app, run, serve

__all__ = ["create_app", "run", "serve"]
