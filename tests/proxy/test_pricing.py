from __future__ import annotations

import csv
import re
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.model_ids import parse_model_id
from proxy.models import load_builtin_models
from proxy.pricing import (
    COST_COLUMNS,
    CostRow,
    CostTable,
    Prices,
    TokenCounts,
    compute_cost,
    format_costs_csv,
    load_default_costs,
    parse_costs_csv,
    price_lookup_key,
    provider_for,
)

D = Decimal
SONNET_45 = Prices(D("3"), D("15"), D("3.75"), D("6"), D("0.3"))
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def shipped_text() -> str:
    return resources.files("proxy.data").joinpath("model_costs.csv").read_text("utf-8")


@pytest.fixture(scope="module")
def table() -> CostTable:
    return CostTable.from_rows(load_default_costs())


# --- cost maths ---


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (TokenCounts(input=1_000_000), D("3")),
        (TokenCounts(output=1_000_000), D("15")),
        (TokenCounts(cache_read=1_000_000), D("0.3")),
        (TokenCounts(cache_write_5m=1_000_000), D("3.75")),
        (TokenCounts(cache_write_1h=1_000_000), D("6")),
        (TokenCounts(input=1), D("0.000003")),
        (TokenCounts(cache_read=1), D("0.0000003")),
        (TokenCounts(cache_write_5m=3), D("0.00001125")),
        (
            TokenCounts(
                input=1234, output=567, cache_read=10_000, cache_write_5m=100, cache_write_1h=7
            ),
            D("0.015624"),
        ),
        (TokenCounts(), D("0")),
    ],
)
def test_compute_cost(tokens: TokenCounts, expected: Decimal) -> None:
    cost = compute_cost(tokens, SONNET_45)
    assert isinstance(cost, Decimal)
    assert cost == expected


def test_unknown_price_gives_unknown_cost_not_zero() -> None:
    no_cache = Prices(D("0.8"), D("3.2"))
    assert compute_cost(TokenCounts(input=10, output=5), no_cache) == D("0.000024")
    for kind in ("cache_read", "cache_write_5m", "cache_write_1h"):
        assert compute_cost(TokenCounts(input=10, **{kind: 1}), no_cache) is None
    partial = Prices(D("1"), D("5"), cache_read=D("0.1"))
    assert compute_cost(TokenCounts(cache_read=10), partial) == D("0.000001")
    assert compute_cost(TokenCounts(cache_write_1h=10), partial) is None


prices_st = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False)
counts_st = st.integers(min_value=0, max_value=10**12)


@given(
    st.tuples(counts_st, counts_st, counts_st, counts_st, counts_st),
    st.tuples(prices_st, prices_st, prices_st, prices_st, prices_st),
)
def test_cost_is_exact(counts: tuple[int, ...], prices: tuple[Decimal, ...]) -> None:
    tokens = TokenCounts(*counts)
    p = Prices(*prices)
    cost = compute_cost(tokens, p)
    assert isinstance(cost, Decimal)
    paired = zip(
        (
            tokens.input,
            tokens.output,
            tokens.cache_read,
            tokens.cache_write_5m,
            tokens.cache_write_1h,
        ),
        (p.input, p.output, p.cache_read, p.cache_write_5m, p.cache_write_1h),
        strict=True,
    )
    exact = sum((Fraction(n) * Fraction(price or 0) for n, price in paired), Fraction(0))
    assert Fraction(cost) == exact / 1_000_000


def test_floats_and_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="input"):
        Prices(3.0, D("15"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="output"):
        Prices(D("3"), D("-1"))
    with pytest.raises(ValueError, match="cache_read"):
        Prices(D("3"), D("15"), cache_read=D("NaN"))
    with pytest.raises(ValueError, match="input"):
        TokenCounts(input=-1)
    with pytest.raises(ValueError, match="output"):
        TokenCounts(output=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache_read"):
        TokenCounts(cache_read=True)


# --- lookup keys ---


@pytest.mark.parametrize(
    ("model_id", "key_model"),
    [
        ("anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"),
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"),
        ("global.anthropic.claude-opus-5-5", "anthropic.claude-opus-5-5"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/apac.amazon.nova-pro-v1:0",
            "amazon.nova-pro-v1:0",
        ),
        ("arn:aws:bedrock:us-east-1::foundation-model/deepseek.r1-v1:0", "deepseek.r1-v1:0"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123",
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123",
        ),
        ("not a model id", "not a model id"),
    ],
)
def test_price_lookup_key(model_id: str, key_model: str) -> None:
    assert price_lookup_key("eu-west-1", model_id) == ("eu-west-1", key_model)


def test_profiles_priced_by_base_model_in_source_region(table: CostTable) -> None:
    base = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    in_region = table.prices_for("us-gov-west-1", base)
    assert in_region is not None
    assert in_region.input == D("3.6")
    assert table.prices_for("us-gov-west-1", f"us-gov.{base}") == in_region
    us = table.prices_for("us-east-1", f"us.{base}")
    assert us is not None
    assert us.input == D("3")
    sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert table.prices_for("eu-west-1", f"global.{sonnet45}") == SONNET_45
    assert table.prices_for("mars-north-1", f"global.{sonnet45}") is None
    assert table.prices_for("us-east-1", "anthropic.claude-unknown-9") is None


# --- the shipped table ---


def test_shipped_csv_is_clean(shipped_text: str) -> None:
    assert "\r" not in shipped_text
    assert shipped_text.splitlines()[0] == ",".join(COST_COLUMNS)
    rows, rejected = parse_costs_csv(shipped_text)
    assert rejected == []
    assert len(rows) == len(shipped_text.splitlines()) - 1
    keys = [(r.region, r.model_id) for r in rows]
    assert len(keys) == len(set(keys))
    assert all(r.provider and r.provider != "Unknown" for r in rows)
    assert all(parse_model_id(r.model_id).kind == "base" for r in rows)
    assert format_costs_csv(rows) == shipped_text  # canonical: no float artefacts, LF
    for line in shipped_text.splitlines()[1:]:
        for price in next(csv.reader([line]))[4:]:
            assert re.fullmatch(r"|0|[1-9][0-9]*|[0-9]+\.[0-9]{0,5}[1-9]", price), line


def test_shipped_csv_anthropic_cache_prices(shipped_text: str) -> None:
    for row in parse_costs_csv(shipped_text)[0]:
        p = row.prices
        if row.provider == "Anthropic":
            assert (p.cache_write_5m, p.cache_write_1h, p.cache_read) == (
                p.input * D("1.25"),
                p.input * 2,
                p.input * D("0.1"),
            ), row
        assert row.provider == provider_for(row.model_id)


@pytest.mark.parametrize(
    ("model_id", "name", "inp", "out"),
    [
        ("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", "15", "75"),
        ("anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4", "15", "75"),
        ("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", "3", "15"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", "3", "15"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", "1", "5"),
        ("anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5", "5", "25"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", "0.8", "4"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "0.25", "1.25"),
        ("anthropic.claude-v2:1", "Claude 2.1", "8", "24"),
        ("anthropic.claude-opus-5-5", "Claude Opus 5.5", "5", "25"),
        ("anthropic.claude-sonnet-4-6", "Claude Sonnet 4.6", "3", "15"),
        ("anthropic.claude-haiku-5-5", "Claude Haiku 5.5", "1", "5"),
        ("cohere.command-light-text-v14", "Command-Light", "0.3", "0.6"),
        ("amazon.titan-embed-text-v2:0", "Amazon Titan Text Embeddings V2", "0.02", "0.01"),
        ("meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 Instruct (70B)", "0.72", "0.72"),
    ],
)
def test_shipped_prices_us_east_1(
    table: CostTable, model_id: str, name: str, inp: str, out: str
) -> None:
    row = table.by_key[("us-east-1", model_id)]
    assert (row.model_name, row.prices.input, row.prices.output) == (name, D(inp), D(out))


def test_shipped_csv_fixes(table: CostTable) -> None:
    names_for_v2 = {
        r.model_name for r in table.by_key.values() if r.model_id == "anthropic.claude-v2"
    }
    assert names_for_v2 == {"Claude 2.0"}
    assert table.by_key[("us-east-1", "cohere.command-text-v14")].model_name == "Command"
    opus4 = table.by_key[("us-east-2", "anthropic.claude-opus-4-20250514-v1:0")].prices
    assert (opus4.cache_write_5m, opus4.cache_read) == (D("18.75"), D("1.5"))
    assert table.by_key[("us-west-2", "openai.gpt-oss-20b-1:0")].provider == "OpenAI"
    assert table.by_key[("eu-west-1", "cohere.embed-english-v3")].provider == "Cohere"
    nova = table.by_key[("us-east-1", "amazon.nova-pro-v1:0")].prices
    assert (nova.cache_write_5m, nova.cache_read) == (None, None)  # unknown, not free
    assert all("_" not in model_id for _, model_id in table.by_key)  # no scraped slugs


def test_builtin_catalog_models_are_priced_except_unpriced_families(table: CostTable) -> None:
    unpriced = {"claude-mythos-5", "claude-fable-5", "claude-fable-5-1", "claude-fable-5-2"}
    for model in load_builtin_models():
        key = ("us-east-1", model.base_model_id)
        assert (key in table.by_key) == (model.name not in unpriced), model.name


# --- parsing uploads ---


def _csv(*lines: str) -> str:
    return "\n".join([",".join(COST_COLUMNS), *lines]) + "\n"


def test_parse_rejects_bad_lines_with_line_numbers() -> None:
    text = _csv(
        "us-east-1,anthropic.claude-x-1,Claude X,Anthropic,3,15,3.75,6,0.3",
        "us-east-1,anthropic.claude-x-1,Claude X again,Anthropic,3,15,,,",
        "moon,anthropic.claude-x-2,X,Anthropic,3,15,,,",
        "us-east-1,us.anthropic.claude-x-3,X,Anthropic,3,15,,,",
        "us-east-1,anthropic.claude/../x,X,Anthropic,3,15,,,",
        "us-east-1,anthropic.claude-x-4,X,Anthropic,,15,,,",
        "us-east-1,anthropic.claude-x-5,X,Anthropic,-3,15,,,",
        "us-east-1,anthropic.claude-x-6,X,Anthropic,3,NaN,,,",
        "us-east-1,anthropic.claude-x-7,X,Anthropic,3,15,abc,,",
        "us-east-1,anthropic.claude-x-8,X,Anthropic,3,15",
        "us-east-1,anthropic.claude-x-9,X,Anthropic,3,15,,,,",
        "",
        "us-east-1,anthropic.claude-x-10,X,Anthropic,3,15,,,1e9",
        "eu-west-1,anthropic.claude-x-1,,,0.000001,1,,,",
    )
    rows, rejected = parse_costs_csv(text)
    assert [line for line, _ in rejected] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]
    reasons = dict(rejected)
    assert "duplicate of line 2" in reasons[3]
    assert "region" in reasons[4]
    assert "base model id" in reasons[5]
    assert "input price is required" in reasons[7]
    assert "expected 9 fields" in reasons[11]
    assert [(r.region, r.model_id) for r in rows] == [
        ("us-east-1", "anthropic.claude-x-1"),
        ("eu-west-1", "anthropic.claude-x-1"),
    ]
    assert (rows[1].model_name, rows[1].provider) == ("anthropic.claude-x-1", "Anthropic")
    assert rows[0].prices == Prices(D(3), D(15), D("3.75"), D(6), D("0.3"))


def test_parse_header_bom_and_crlf() -> None:
    for text in ("", "region,model\nus-east-1,x\n", _csv().replace("region", "Region")):
        rows, rejected = parse_costs_csv(text)
        assert rows == []
        assert len(rejected) == 1
        assert rejected[0][0] == 1
        assert "header" in rejected[0][1]
    rows, rejected = parse_costs_csv("region,model\nus-east-1,x\n")
    assert rows == []
    assert rejected[0][0] == 1
    assert "header" in rejected[0][1]
    text = "\ufeff" + _csv("us-east-1,amazon.nova-pro-v1:0,Nova Pro,Amazon,0.8,3.2,,,").replace(
        "\n", "\r\n"
    )
    rows, rejected = parse_costs_csv(text)
    assert rejected == []
    assert rows[0].prices == Prices(D("0.8"), D("3.2"))


row_st = st.builds(
    CostRow,
    region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"]),
    model_id=st.sampled_from(["anthropic.claude-opus-5-5", "amazon.nova-pro-v1:0", "meta.x-1:0"]),
    model_name=st.text(
        alphabet=st.characters(categories=["L", "N", "P"], include_characters=" "), max_size=30
    )
    .map(str.strip)
    .filter(bool),
    provider=st.sampled_from(["Anthropic", "Amazon", "Meta"]),
    prices=st.builds(
        Prices,
        prices_st,
        prices_st,
        st.none() | prices_st,
        st.none() | prices_st,
        st.none() | prices_st,
    ),
)


@given(st.lists(row_st, max_size=8, unique_by=lambda r: (r.region, r.model_id)))
def test_format_then_parse_round_trips(rows: list[CostRow]) -> None:
    parsed, rejected = parse_costs_csv(format_costs_csv(rows))
    assert rejected == []
    assert parsed == rows
