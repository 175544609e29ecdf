"""The proxying domain's exception hierarchy."""

from __future__ import annotations


class ProxyError(Exception):
    """Base of every error raised by the `proxy` package."""


class InvalidModelId(ProxyError, ValueError):
    """A model id that is not a syntactically valid Bedrock model id, profile id or ARN."""


class InvalidModelMapping(ProxyError, ValueError):
    """An operator model mapping or profile policy setting that cannot be used."""


class InvalidCostData(ProxyError, ValueError):
    """A pricing table that does not parse (the shipped CSV, or an uploaded one)."""


class InvalidDiscoveryData(ProxyError, ValueError):
    """A ListFoundationModels / ListInferenceProfiles response without the expected shape."""


class InvalidToken(ProxyError, ValueError):
    """An access token that is malformed, badly signed, of another algorithm, or not valid now."""


class ExpiredToken(InvalidToken):
    """An access token past its `exp` (zero leeway)."""
