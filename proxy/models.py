"""Claude model names for the Anthropic front, and the Bedrock id each one is called with.

A `ModelCatalog` merges three sources, later ones winning: the built-in table
(`proxy/data/claude_models.csv`), models discovered in the AWS account (pure parsers of
ListFoundationModels / ListInferenceProfiles responses below) and operator mappings from
config. `ProfilePolicy` decides the inference-profile prefix; the rule is in
docs/models-and-pricing.md and in `ModelCatalog._bedrock_id_for`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import attrs

from proxy.errors import InvalidDiscoveryData, InvalidModelMapping
from proxy.model_ids import GEO_PREFIXES, InvalidModelId, is_model_id_syntax, parse_model_id

ModelSource = Literal["builtin", "operator", "discovered", "direct"]

_AUTO_REGION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("us-gov-", "us-gov"),
    ("us-", "us"),
    ("eu-", "eu"),
    ("ap-", "apac"),
)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_NAME_FROM_ID_RE = re.compile(r"anthropic\.(claude-[a-z0-9-]+?)(?:-v[0-9]+(?::[0-9]+)?)?")
_DATE_SUFFIX_RE = re.compile(r"-([0-9]{4})([0-9]{2})([0-9]{2})$")
_FAMILY_FIRST_RE = re.compile(r"claude-([a-z]+)-([0-9]+(?:-[0-9]{1,2})?)(?:-[0-9]{8})?")
_VERSION_FIRST_RE = re.compile(r"claude-([0-9]+(?:-[0-9])?)-([a-z]+)(?:-[0-9]{8})?")


def prefix_for_region(region: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """Geo prefix for `region`: longest matching key (a region, or a prefix ending in '-')."""
    table = dict(_AUTO_REGION_PREFIXES)
    table.update(overrides or {})
    keys = [k for k in table if k == region or (k.endswith("-") and region.startswith(k))]
    if not keys:
        return None
    value = table[max(keys, key=len)]
    if value in ("", "none"):
        return None
    if value not in GEO_PREFIXES:
        raise InvalidModelMapping(f"unknown inference-profile prefix {value!r} for {region!r}")
    return value


@attrs.frozen
class ProfilePolicy:
    """Which inference-profile prefix goes in front of a base model id (None: no prefix)."""

    mode: Literal["auto", "none", "fixed"] = "none"
    prefix: str | None = None

    @classmethod
    def from_setting(
        cls, setting: str, *, region: str = "", region_prefixes: Mapping[str, str] | None = None
    ) -> ProfilePolicy:
        """`"auto"` (prefix from the AWS region), `"none"`, or a prefix such as `"us"`."""
        if setting == "none":
            return cls("none")
        if setting in GEO_PREFIXES:
            return cls("fixed", setting)
        if setting != "auto":
            raise InvalidModelMapping(f"profile policy must be auto, none or one of {GEO_PREFIXES}")
        return cls("auto", prefix_for_region(region, region_prefixes))


@attrs.frozen
class DiscoveredModel:
    """One `FoundationModelSummary` from ListFoundationModels."""

    model_id: str
    model_arn: str
    model_name: str | None
    provider_name: str | None
    inference_types: tuple[str, ...]
    output_modalities: tuple[str, ...]
    lifecycle_status: str | None
    released_at: datetime | None

    @property
    def supports_on_demand(self) -> bool:
        """True when the base id can be invoked directly in the listing region."""
        return "ON_DEMAND" in self.inference_types


@attrs.frozen
class DiscoveredProfile:
    """One `InferenceProfileSummary` from ListInferenceProfiles."""

    profile_id: str
    profile_arn: str
    name: str
    profile_type: str
    status: str
    model_arns: tuple[str, ...]
    base_model_id: str | None
    created_at: datetime | None


@attrs.frozen
class ResolvedModel:
    """A model name resolved to the Bedrock id to call, plus what GET /v1/models shows."""

    name: str
    bedrock_id: str
    base_model_id: str | None
    display_name: str
    created_at: datetime | None
    source: ModelSource


@attrs.frozen
class CatalogEntry:
    """A canonical name's target (base id, profile id or ARN) and its listing details."""

    target: str
    display_name: str
    created_at: datetime | None
    source: ModelSource


def parse_foundation_models(doc: Mapping[str, Any]) -> list[DiscoveredModel]:
    """Parse a ListFoundationModels response; summaries with an invalid model id are skipped."""
    out = []
    for item in _summaries(doc, "modelSummaries"):
        model_id, arn = item.get("modelId"), item.get("modelArn")
        if not isinstance(model_id, str) or not isinstance(arn, str):
            continue
        if not is_model_id_syntax(model_id) or parse_model_id(model_id).kind != "base":
            continue
        lifecycle = item.get("modelLifecycle")
        lifecycle = lifecycle if isinstance(lifecycle, Mapping) else {}
        out.append(
            DiscoveredModel(
                model_id=model_id,
                model_arn=arn,
                model_name=_str_or_none(item.get("modelName")),
                provider_name=_str_or_none(item.get("providerName")),
                inference_types=_strings(item.get("inferenceTypesSupported")),
                output_modalities=_strings(item.get("outputModalities")),
                lifecycle_status=_str_or_none(lifecycle.get("status")),
                released_at=_timestamp(lifecycle.get("startOfLifeTime")),
            )
        )
    return out


def parse_inference_profiles(doc: Mapping[str, Any]) -> list[DiscoveredProfile]:
    """Parse one ListInferenceProfiles page (the caller follows `nextToken`)."""
    out = []
    for item in _summaries(doc, "inferenceProfileSummaries"):
        pid, arn = item.get("inferenceProfileId"), item.get("inferenceProfileArn")
        ptype = item.get("type")
        if not (isinstance(pid, str) and isinstance(arn, str) and isinstance(ptype, str)):
            continue
        models = item.get("models")
        model_arns = tuple(
            m["modelArn"]
            for m in (models if isinstance(models, list) else [])
            if isinstance(m, Mapping) and isinstance(m.get("modelArn"), str)
        )
        out.append(
            DiscoveredProfile(
                profile_id=pid,
                profile_arn=arn,
                name=_str_or_none(item.get("inferenceProfileName")) or pid,
                profile_type=ptype,
                status=_str_or_none(item.get("status")) or "",
                model_arns=model_arns,
                base_model_id=_profile_base(pid, ptype, model_arns),
                created_at=_timestamp(item.get("createdAt")),
            )
        )
    return out


def anthropic_name_for(base_model_id: str) -> str | None:
    """`anthropic.claude-sonnet-4-5-20250929-v1:0` → `claude-sonnet-4-5-20250929`, else None."""
    m = _NAME_FROM_ID_RE.fullmatch(base_model_id)
    if m is None or not any(c.isdigit() for c in m[1]):
        return None
    return m[1]


def display_name_for(name: str) -> str:
    """`claude-opus-5-5` → `Claude Opus 5.5`; `claude-3-5-haiku-20241022` → `Claude Haiku 3.5`."""
    if m := _FAMILY_FIRST_RE.fullmatch(name):
        family, version = m[1], m[2]
    elif m := _VERSION_FIRST_RE.fullmatch(name):
        version, family = m[1], m[2]
    else:
        return " ".join(part.capitalize() for part in name.split("-"))
    return f"Claude {family.capitalize()} {version.replace('-', '.')}"


def created_at_from_name(name: str) -> datetime | None:
    """The snapshot date a dated name carries (`...-20250929`), as midnight UTC."""
    m = _DATE_SUFFIX_RE.search(name)
    if m is None:
        return None
    try:
        day = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def alias_for(name: str) -> str | None:
    """The short alias of a dated name: `claude-sonnet-4-5`, or `claude-3-5-haiku-latest`."""
    m = _DATE_SUFFIX_RE.search(name)
    if m is None:
        return None
    stem = name[: m.start()]
    return f"{stem}-latest" if stem.startswith("claude-3-") else stem


@attrs.frozen
class BuiltinModel:
    """One row of the shipped Claude model table."""

    name: str
    base_model_id: str
    display_name: str
    aliases: tuple[str, ...]


def load_builtin_models() -> list[BuiltinModel]:
    """Read `proxy/data/claude_models.csv` (newest first)."""
    text = resources.files("proxy.data").joinpath("claude_models.csv").read_text("utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        base = row["bedrock_id"]
        if parse_model_id(base).kind != "base":
            raise InvalidModelMapping(f"claude_models.csv: {base!r} is not a base model id")
        aliases = tuple(row["aliases"].split())
        rows.append(BuiltinModel(row["anthropic_name"], base, row["display_name"], aliases))
    return rows


@attrs.frozen
class ModelCatalog:
    """Resolves Anthropic model names (and raw Bedrock ids) to the Bedrock id to call."""

    policy: ProfilePolicy
    entries: Mapping[str, CatalogEntry]
    aliases: Mapping[str, str]
    profiles: Mapping[str, tuple[str, ...]] | None
    on_demand: frozenset[str]
    discovered_bases: frozenset[str]

    @classmethod
    def build(
        cls,
        *,
        policy: ProfilePolicy | None = None,
        operator_mappings: Mapping[str, str] | None = None,
        discovered_models: Sequence[DiscoveredModel] | None = None,
        discovered_profiles: Sequence[DiscoveredProfile] | None = None,
        builtin: Sequence[BuiltinModel] | None = None,
    ) -> ModelCatalog:
        """Merge built-in table, discovery (None: not run) and operator mappings (they win)."""
        entries: dict[str, CatalogEntry] = {}
        aliases: dict[str, str] = {}
        for b in load_builtin_models() if builtin is None else builtin:
            when = created_at_from_name(b.name)
            entries[b.name] = CatalogEntry(b.base_model_id, b.display_name, when, "builtin")
            aliases.update(dict.fromkeys(b.aliases, b.name))
        models = list(discovered_models or ())
        profs = [p for p in discovered_profiles or () if p.profile_type == "SYSTEM_DEFINED"]
        by_base: dict[str, list[str]] = {}
        for p in profs:
            if p.base_model_id is not None:
                by_base.setdefault(p.base_model_id, []).append(p.profile_id)
        released = {m.model_id: m.released_at for m in models}
        bases = sorted({m.model_id for m in models} | set(by_base))
        found = _discovered_entries(bases, released, entries, aliases)
        entries = {**found, **entries}
        entries = _apply_operator_mappings(operator_mappings or {}, entries, aliases)
        no_discovery = discovered_models is None and discovered_profiles is None
        profiles = {b: tuple(sorted(p)) for b, p in by_base.items()}
        return cls(
            policy=policy or ProfilePolicy(),
            entries=MappingProxyType(entries),
            aliases=MappingProxyType(aliases),
            profiles=None if no_discovery else MappingProxyType(profiles),
            on_demand=frozenset(m.model_id for m in models if m.supports_on_demand),
            discovered_bases=frozenset(bases),
        )

    def resolve(self, name: str) -> ResolvedModel | None:
        """Resolve a name, alias, Bedrock id, profile id or ARN; None when unknown or invalid."""
        canonical = self.aliases.get(name, name)
        entry = self.entries.get(canonical)
        if entry is not None:
            return self._resolved(canonical, entry)
        try:
            ref = parse_model_id(name)
        except InvalidModelId:
            return None
        base = ref.base_model_id if ref.is_anthropic else None
        known = next((e for e in self.entries.values() if e.target == base), None)
        return ResolvedModel(
            name=name,
            bedrock_id=name,
            base_model_id=ref.base_model_id,
            display_name=known.display_name if known else name,
            created_at=known.created_at if known else None,
            source="direct",
        )

    def list_models(self) -> list[ResolvedModel]:
        """Every canonical name (no aliases): operator-added, discovered, then the table."""
        return [self._resolved(name, entry) for name, entry in self.entries.items()]

    def _resolved(self, name: str, entry: CatalogEntry) -> ResolvedModel:
        ref = parse_model_id(entry.target)
        bedrock_id = self._bedrock_id_for(ref.model_id) if ref.kind == "base" else ref.model_id
        return ResolvedModel(
            name, bedrock_id, ref.base_model_id, entry.display_name, entry.created_at, entry.source
        )

    def _bedrock_id_for(self, base: str) -> str:
        """Apply the profile policy, checked against discovery when discovery knows `base`.

        Preferred `{prefix}.{base}` if discovered (or if discovery knows nothing of `base`),
        else the base id if it is invocable on demand, else a discovered geography profile,
        else `global.` unless the policy pins a geography. Mode "none" always uses the base.
        """
        policy = self.policy
        if policy.mode == "none":
            return base
        preferred = f"{policy.prefix}.{base}" if policy.prefix else base
        if self.profiles is None or base not in self.discovered_bases:
            return preferred
        existing = self.profiles.get(base, ())
        if preferred in existing or base in self.on_demand:
            return preferred if preferred in existing else base
        allow_global = policy.mode == "auto" or policy.prefix == "global"
        fallback = [p for p in existing if allow_global or not p.startswith("global.")]
        if fallback:
            return min(fallback, key=lambda p: (p.startswith("global."), p))
        return preferred


def _discovered_entries(
    bases: Sequence[str],
    released: Mapping[str, datetime | None],
    entries: dict[str, CatalogEntry],
    aliases: dict[str, str],
) -> dict[str, CatalogEntry]:
    by_target = {e.target: n for n, e in entries.items()}
    found: dict[str, CatalogEntry] = {}
    for base in bases:
        name = anthropic_name_for(base)
        when = released.get(base) or (created_at_from_name(name) if name else None)
        if base in by_target:
            known = by_target[base]
            if entries[known].created_at is None and when is not None:
                entries[known] = attrs.evolve(entries[known], created_at=when)
        elif name is not None and name not in entries and name not in aliases:
            found[name] = CatalogEntry(base, display_name_for(name), when, "discovered")
    for name in sorted(found, reverse=True):  # newest date first, so it wins the alias
        alias = alias_for(name)
        if alias is not None and alias not in entries and alias not in found:
            aliases.setdefault(alias, name)
    oldest = datetime.min.replace(tzinfo=UTC)
    order = sorted(found, key=lambda n: (found[n].created_at or oldest, n), reverse=True)
    return {n: found[n] for n in order}


def _apply_operator_mappings(
    mappings: Mapping[str, str], entries: dict[str, CatalogEntry], aliases: dict[str, str]
) -> dict[str, CatalogEntry]:
    added: dict[str, CatalogEntry] = {}
    for key, value in mappings.items():
        if not _NAME_RE.fullmatch(key):
            raise InvalidModelMapping(f"model mapping name {key!r} is not a valid model name")
        target = aliases.get(value, value)
        if target in entries and target != key:
            entries.pop(key, None)
            aliases[key] = target
            continue
        try:
            parse_model_id(value)
        except InvalidModelId as exc:
            raise InvalidModelMapping(f"model mapping {key!r}: {exc}") from exc
        aliases.pop(key, None)
        old = entries.get(key)
        if old is not None:
            entries[key] = attrs.evolve(old, target=value, source="operator")
        else:
            display = display_name_for(key) if key.startswith("claude-") else key
            added[key] = CatalogEntry(value, display, created_at_from_name(key), "operator")
    entries = {**added, **entries}
    for alias, target in list(aliases.items()):  # a later mapping may have moved a target
        seen = {alias}
        while target not in entries and target in aliases and target not in seen:
            seen.add(target)
            target = aliases[target]
        if target in entries:
            aliases[alias] = target
        else:
            del aliases[alias]
    return entries


def _summaries(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        raise InvalidDiscoveryData(f"expected a JSON object with {key!r}")
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise InvalidDiscoveryData(f"{key!r} is not a list")
    return [item for item in items if isinstance(item, Mapping)]


def _profile_base(profile_id: str, ptype: str, model_arns: Sequence[str]) -> str | None:
    if ptype == "SYSTEM_DEFINED" and is_model_id_syntax(profile_id):
        ref = parse_model_id(profile_id)
        if ref.kind == "inference_profile":
            return ref.base_model_id
    bases = {parse_model_id(a).base_model_id for a in model_arns if is_model_id_syntax(a)}
    return bases.pop() if len(bases) == 1 else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _timestamp(value: object) -> datetime | None:
    """Bedrock sends ISO 8601 on the wire; botocore hands back datetimes; accept epoch too."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            return _timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError):
        return None
    return None
