"""The beta-flag policy: which `anthropic-beta` flags reach Bedrock's `anthropic_beta` array.

Bedrock refuses a whole request ("invalid beta flag", 400) when one flag is unknown to it, and
which flags it knows differs per Claude generation. The policy is per model family (shell
patterns on the base model id), configurable, and reports each flag it drops (sans-I/O: the
caller bumps the metric and writes the log line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

import attrs

from proxy.config import BetaFlagsConfig

MAX_FLAGS = 64
MAX_FLAG_LENGTH = 128
_FLAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
UNRECOGNIZED = "unrecognized"  # metric label for flags no list names (bounded cardinality)


@attrs.frozen
class DroppedFlag:
    """A flag the policy kept from Bedrock, and why (`reason` is for the debug log)."""

    flag: str
    label: str  # the metric label: the flag when configured somewhere, else "unrecognized"
    reason: str


@attrs.frozen
class BetaDecision:
    """The outcome for one request: flags to send (in order, deduplicated) and flags dropped."""

    family: str
    passed: tuple[str, ...]
    dropped: tuple[DroppedFlag, ...]


@attrs.frozen
class _Family:
    name: str
    patterns: tuple[str, ...]
    allowed: frozenset[str]
    dropped: frozenset[str]


def split_beta_header(values: Iterable[str]) -> list[str]:
    """Flags from one or more `anthropic-beta` header values (comma-separated), in order."""
    flags: list[str] = []
    for value in values:
        flags.extend(part.strip() for part in value.split(",") if part.strip())
    return flags


@attrs.frozen
class BetaPolicy:
    """Decides, per model family, which flags pass (see `BetaFlagsConfig` for the rule)."""

    families: tuple[_Family, ...]
    default: _Family
    allow: frozenset[str]
    drop: frozenset[str]
    translations: Mapping[str, tuple[str, ...]]
    pass_unknown: bool
    known: frozenset[str]

    @classmethod
    def from_config(cls, config: BetaFlagsConfig) -> BetaPolicy:
        """Compile the configuration (patterns and lists become frozen sets)."""
        families = tuple(
            _Family(name, tuple(f.models), frozenset(f.allowed), frozenset(f.dropped))
            for name, f in config.families.items()
        )
        by_name = {f.name: f for f in families}
        default = by_name.get(config.default_family) or _Family(
            config.default_family, (), frozenset(), frozenset()
        )
        translations = {k: tuple(v) for k, v in config.translations.items()}
        known = set(config.allow) | set(config.drop) | set(translations)
        for family in families:
            known |= family.allowed | family.dropped
        for targets in translations.values():
            known.update(targets)
        return cls(
            families=families,
            default=default,
            allow=frozenset(config.allow),
            drop=frozenset(config.drop),
            translations=translations,
            pass_unknown=config.unknown == "pass",
            known=frozenset(known),
        )

    def family_for(self, base_model_id: str | None) -> _Family:
        """The first family whose pattern matches, else the default family."""
        if base_model_id:
            for family in self.families:
                if any(fnmatchcase(base_model_id, p) for p in family.patterns):
                    return family
        return self.default

    def decide(self, flags: Sequence[str], base_model_id: str | None) -> BetaDecision:
        """Translate, deduplicate and filter `flags` for the model `base_model_id`."""
        family = self.family_for(base_model_id)
        passed: list[str] = []
        dropped: list[DroppedFlag] = []
        seen: set[str] = set()
        for raw in flags[:MAX_FLAGS]:
            for flag in self.translations.get(raw, (raw,)):
                if flag in seen:
                    continue
                seen.add(flag)
                reason = self._reason_to_drop(flag, family)
                if reason is None:
                    passed.append(flag)
                else:
                    label = flag if flag in self.known else UNRECOGNIZED
                    dropped.append(DroppedFlag(flag[:MAX_FLAG_LENGTH], label, reason))
        for raw in flags[MAX_FLAGS:]:
            dropped.append(DroppedFlag(raw[:MAX_FLAG_LENGTH], UNRECOGNIZED, "too many flags"))
        return BetaDecision(family.name, tuple(passed), tuple(dropped))

    def _reason_to_drop(self, flag: str, family: _Family) -> str | None:
        if not _FLAG_RE.fullmatch(flag):
            return "not a valid flag name"
        if flag in self.allow:
            return None
        if flag in self.drop:
            return "dropped for every model (anthropic.beta_flags.drop)"
        if flag in family.dropped:
            return f"not accepted by Bedrock for family {family.name}"
        if flag in family.allowed or self.pass_unknown:
            return None
        return f"not known to be accepted by Bedrock for family {family.name}"
