"""The terminal client, `aisle chat`: render.py (frames to rich), state.py (transcript, commands),
client.py (session, socket, resume), app.py (the interactive loop). docs/clients.md."""

from pipeline.chat.app import chat

__all__ = ["chat"]
