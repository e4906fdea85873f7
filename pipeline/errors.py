"""Every error the package raises, under one root.

    AisleError                      root; `retriable` says whether trying again may help
    ├── ConfigError                 a bad setting (not retriable)
    ├── ContractError               a message that does not match our contracts (not retriable)
    │   ├── DecodeError             bytes that are not a single-object-encoded Avro message we know
    │   └── SchemaCompatibilityError  a schema change that old readers or writers cannot follow
    ├── BrokerUnavailableError      Kafka not reachable (retriable)
    ├── StageError                  a stage's core failed on one message (not retriable by default)
    ├── DependencyError             a service a stage calls (LLM, store, index) failed (retriable)
    ├── NotFoundError               the store has no such product, order or cart line (not retriable)
    └── StoreConflictError          the store refuses an action in its current state (out of stock,
                                    empty cart); not retriable as is

Library errors are wrapped with `raise ... from exc`, so the cause stays in the traceback.
"""

from __future__ import annotations


class AisleError(Exception):
    """Root of all Aisle errors."""

    retriable: bool = False


class ConfigError(AisleError):
    """A setting has a value that cannot be used."""


class ContractError(AisleError):
    """A message does not match the contracts in schemas/ and topics/."""


class DecodeError(ContractError):
    """Bytes that cannot be decoded as a single-object-encoded Avro message of a known schema."""


class SchemaCompatibilityError(ContractError):
    """A schema change breaks readers of old data."""


class BrokerUnavailableError(AisleError):
    """The Kafka cluster cannot be reached."""

    retriable = True


class StageError(AisleError):
    """A stage's core could not process one message."""


class DependencyError(AisleError):
    """A service that a stage depends on (LLM, store, vector index) failed."""

    retriable = True


class NotFoundError(AisleError):
    """A product, order or cart line that the store does not have."""


class StoreConflictError(AisleError):
    """The store refuses an action in its current state, e.g. ordering an out-of-stock product."""
