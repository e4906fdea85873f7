"""Where the contracts live: the Avro schemas (schemas/, with schemas/history/) and the topic
declarations (topics/topics.toml).

Their home is the repository root, where backend teams read them, not the package. An installed
wheel has no checkout beside it, so the wheel carries a copy inside the package, in
pipeline/_contracts/ (pyproject.toml maps the root folders there at build time). The rule, for
every reader: the copy the package carries when it has one, else the checkout's root folders.

A checkout never has pipeline/_contracts/: a build writes under build/ and an editable install adds
nothing to the tree. So in a checkout the root folders are the only copy, and an edit to a schema is
what the next run reads, with nothing to rebuild.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CARRIED = _PACKAGE / "_contracts"

ROOT = _CARRIED if _CARRIED.is_dir() else _PACKAGE.parent
"""The folder holding schemas/ and topics/: pipeline/_contracts/ when installed from the wheel,
the repository root in a checkout."""
SCHEMAS_DIR = ROOT / "schemas"
"""The current `<Name>.avsc` files, and history/<Name>/ with every version that was ever current."""
TOPICS_FILE = ROOT / "topics" / "topics.toml"
"""Every topic, declared as data."""
