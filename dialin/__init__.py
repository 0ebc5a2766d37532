"""dialin: LLM-in-the-loop intent discovery for customer-service utterances."""

from __future__ import annotations

from typing import Any

__all__ = ["IntentDiscovery", "Intent", "IntentClassifier", "Config", "load_config"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Lazy exports: importing dialin loads no model and no heavy library."""
    if name in ("IntentDiscovery", "Intent"):
        from dialin import estimator

        return getattr(estimator, name)
    if name == "IntentClassifier":
        from dialin.classify import classifier

        return classifier.IntentClassifier
    if name in ("Config", "load_config"):
        from dialin import config

        return getattr(config, name)
    raise AttributeError(f"module 'dialin' has no attribute {name!r}")
