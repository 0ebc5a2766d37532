"""Guards of issue 17: input checks, run status, a damaged store named (docs/RELIABILITY.md)."""
