"""One error hierarchy: every message names the problem and the fix."""

from __future__ import annotations


class DialinError(Exception):
    """Base class of every error dialin raises on purpose."""


class ConfigError(DialinError):
    """The configuration file or an override is invalid."""


class DataError(DialinError):
    """The input corpus cannot be read as asked."""


class EndpointUnreachable(DialinError):
    """An LLM endpoint does not answer."""


class LLMCallError(DialinError):
    """An LLM call failed for good; carries what is needed to diagnose it."""

    def __init__(
        self,
        message: str,
        *,
        role: str | None = None,
        model: str | None = None,
        attempts: int = 0,
        last_output: str | None = None,
    ) -> None:
        super().__init__(message)
        self.role = role
        self.model = model
        self.attempts = attempts
        self.last_output = last_output


class ParseError(LLMCallError):
    """The model answered, but not in the shape asked for."""


class RunNotFound(DialinError):
    """A run id that is not in the store."""
