"""Token prices and exact cost maths, and the CSV pricing table (shipped and uploaded).

Prices are USD per 1,000,000 tokens as `Decimal`, keyed by (source region, base model id).
An inference profile, `global.` included, is priced as its base model in the region the
request was sent to; see docs/models-and-pricing.md for the table's provenance.
"""

from __future__ import annotations

import csv
import decimal
import io
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from importlib import resources

import attrs
from attrs.validators import instance_of

from proxy.errors import InvalidCostData
from proxy.model_ids import InvalidModelId, parse_model_id

COST_COLUMNS: tuple[str, ...] = (
    "region",
    "model_id",
    "model_name",
    "provider",
    "input_price",
    "output_price",
    "cache_write_5m_price",
    "cache_write_1h_price",
    "cache_read_price",
)
MAX_PRICE = Decimal(100_000)
"""Upper bound accepted for one price (USD per million tokens); catches unit mix-ups."""

_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_PROVIDERS = (
    ("ai21", "AI21 Labs"),
    ("amazon", "Amazon"),
    ("anthropic", "Anthropic"),
    ("cohere", "Cohere"),
    ("deepseek", "DeepSeek"),
    ("meta", "Meta"),
    ("mistral", "Mistral AI"),
    ("openai", "OpenAI"),
)
_PER_MILLION_EXPONENT = -6


def _valid_price(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and 0 <= value <= MAX_PRICE


def _check_price(_inst: object, attr: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not _valid_price(value):
        raise ValueError(f"{attr.name} must be a Decimal in [0, {MAX_PRICE}], got {value!r}")


def _check_optional_price(
    _inst: object, attr: attrs.Attribute[Decimal | None], value: Decimal | None
) -> None:
    if value is not None and not _valid_price(value):
        raise ValueError(f"{attr.name} must be None or a Decimal in [0, {MAX_PRICE}]")


def _count(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attr.name} must be a non-negative int, got {value!r}")


@attrs.frozen
class Prices:
    """USD per million tokens; a cache price of None means unknown (not free)."""

    input: Decimal = attrs.field(validator=_check_price)
    output: Decimal = attrs.field(validator=_check_price)
    cache_write_5m: Decimal | None = attrs.field(default=None, validator=_check_optional_price)
    cache_write_1h: Decimal | None = attrs.field(default=None, validator=_check_optional_price)
    cache_read: Decimal | None = attrs.field(default=None, validator=_check_optional_price)


@attrs.frozen
class TokenCounts:
    """Tokens of one request by kind; `input` excludes cache reads and writes (Anthropic usage)."""

    input: int = attrs.field(default=0, validator=_count)
    output: int = attrs.field(default=0, validator=_count)
    cache_read: int = attrs.field(default=0, validator=_count)
    cache_write_5m: int = attrs.field(default=0, validator=_count)
    cache_write_1h: int = attrs.field(default=0, validator=_count)


@attrs.frozen
class CostRow:
    """One line of the pricing table."""

    region: str = attrs.field(validator=instance_of(str))
    model_id: str = attrs.field(validator=instance_of(str))
    model_name: str = attrs.field(validator=instance_of(str))
    provider: str = attrs.field(validator=instance_of(str))
    prices: Prices = attrs.field(validator=instance_of(Prices))


def compute_cost(tokens: TokenCounts, prices: Prices) -> Decimal | None:
    """Exact USD cost, sum of tokens * price / 1e6; None if a used token kind has no price."""
    pairs = (
        (tokens.input, prices.input),
        (tokens.output, prices.output),
        (tokens.cache_read, prices.cache_read),
        (tokens.cache_write_5m, prices.cache_write_5m),
        (tokens.cache_write_1h, prices.cache_write_1h),
    )
    total = Decimal(0)
    # Inexact is trapped: the result is exact or this raises, never silently rounded.
    exact = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])
    with decimal.localcontext(exact):
        for count, price in pairs:
            if count == 0:
                continue
            if price is None:
                return None
            total += count * price
        return total.scaleb(_PER_MILLION_EXPONENT)


def price_lookup_key(region: str, model_id: str) -> tuple[str, str]:
    """(region, base model id): profiles and ARNs are priced as the model behind them.

    `region` is the source region the request was sent to. Ids that do not parse, and ARNs
    that do not name a base model (application profiles, provisioned models), are kept as is.
    """
    try:
        ref = parse_model_id(model_id)
    except InvalidModelId:
        return (region, model_id)
    return (region, ref.base_model_id or model_id)


@attrs.frozen
class CostTable:
    """Rows indexed by (region, model id) for lookups on the hot path."""

    by_key: Mapping[tuple[str, str], CostRow]

    @classmethod
    def from_rows(cls, rows: Iterable[CostRow]) -> CostTable:
        """Index rows; a later row for the same key replaces an earlier one."""
        return cls({(r.region, r.model_id): r for r in rows})

    def prices_for(self, region: str, model_id: str) -> Prices | None:
        """Prices for a call of `model_id` (any id form) from `region`, or None if unknown."""
        row = self.by_key.get(price_lookup_key(region, model_id))
        return row.prices if row is not None else None


def provider_for(model_id: str) -> str:
    """Provider display name from the model id prefix (`cohere.` → `Cohere`)."""
    prefix = model_id.split(".", 1)[0]
    return dict(_PROVIDERS).get(prefix, prefix)


def parse_costs_csv(text: str) -> tuple[list[CostRow], list[tuple[int, str]]]:
    """Parse a pricing CSV; returns the valid rows and (line number, reason) for the others."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COST_COLUMNS:
        return [], [(1, f"header must be exactly: {','.join(COST_COLUMNS)}")]
    rows: list[CostRow] = []
    rejected: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for fields in reader:
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        try:
            row = _parse_row(fields)
        except ValueError as exc:
            rejected.append((line, str(exc)))
            continue
        key = (row.region, row.model_id)
        if key in seen:
            rejected.append((line, f"duplicate of line {seen[key]} for {key[0]} {key[1]}"))
            continue
        seen[key] = line
        rows.append(row)
    return rows, rejected


def format_costs_csv(rows: Iterable[CostRow]) -> str:
    """The CSV text for `rows` (LF line endings, prices as plain decimals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COST_COLUMNS)
    for r in rows:
        p = r.prices
        prices = (p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read)
        writer.writerow([r.region, r.model_id, r.model_name, r.provider, *map(_fmt, prices)])
    return out.getvalue()


def load_default_costs() -> list[CostRow]:
    """The shipped table, `proxy/data/model_costs.csv`."""
    text = resources.files("proxy.data").joinpath("model_costs.csv").read_text("utf-8")
    rows, rejected = parse_costs_csv(text)
    if rejected:
        raise InvalidCostData(f"model_costs.csv: rejected lines {rejected[:5]}")
    return rows


def _parse_row(fields: list[str]) -> CostRow:
    if len(fields) != len(COST_COLUMNS):
        raise ValueError(f"expected {len(COST_COLUMNS)} fields, got {len(fields)}")
    region, model_id, name, provider, *price_texts = (f.strip() for f in fields)
    if not _REGION_RE.fullmatch(region):
        raise ValueError(f"invalid region {region!r}")
    try:
        kind = parse_model_id(model_id).kind
    except InvalidModelId as exc:
        raise ValueError(f"invalid model_id: {exc}") from exc
    if kind != "base":
        raise ValueError("model_id must be a base model id (profiles are priced by their base)")
    for label, text in (("model_name", name), ("provider", provider)):
        if len(text) > 200 or not text.isprintable():
            raise ValueError(f"{label} must be printable text of at most 200 characters")
    names = [c.removesuffix("_price") for c in COST_COLUMNS[4:]]
    required = [_parse_price(t, n) for t, n in zip(price_texts[:2], names[:2], strict=True)]
    optional = [
        _parse_price(t, n) if t else None for t, n in zip(price_texts[2:], names[2:], strict=True)
    ]
    prices = Prices(*required, *optional)
    return CostRow(region, model_id, name or model_id, provider or provider_for(model_id), prices)


def _parse_price(text: str, name: str) -> Decimal:
    if not text:
        raise ValueError(f"{name} price is required")
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(f"{name} price {text!r} is not a number") from None
    if not _valid_price(value):
        raise ValueError(f"{name} price {text!r} must be between 0 and {MAX_PRICE}")
    return value


def _fmt(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")
