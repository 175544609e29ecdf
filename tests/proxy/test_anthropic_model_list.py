"""GET /v1/models paging, as Anthropic pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.anthropic import AnthropicError, model_info, model_page
from proxy.models import ModelCatalog, ResolvedModel

CATALOG = ModelCatalog.build().list_models()
IDS = [m.name for m in CATALOG]


def test_model_info_shape() -> None:
    dated = next(m for m in CATALOG if m.name == "claude-sonnet-4-5-20250929")
    assert model_info(dated) == {
        "type": "model",
        "id": "claude-sonnet-4-5-20250929",
        "display_name": "Claude Sonnet 4.5",
        "created_at": "2025-09-29T00:00:00Z",
    }
    undated = ResolvedModel("x", "x", None, "X", None, "direct")
    assert model_info(undated)["created_at"] == "1970-01-01T00:00:00Z"
    later = ResolvedModel("y", "y", None, "Y", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "direct")
    assert model_info(later)["created_at"] == "2026-01-02T03:04:05Z"


def test_first_page_defaults_to_twenty() -> None:
    page = model_page(CATALOG, {})
    assert [m["id"] for m in page["data"]] == IDS[:20]
    assert page["has_more"] is True
    assert (page["first_id"], page["last_id"]) == (IDS[0], IDS[19])


def test_empty_list() -> None:
    assert model_page([], {}) == {"data": [], "has_more": False, "first_id": None, "last_id": None}


@given(st.integers(1, 30))
def test_paging_forward_then_backward_visits_everything_once(limit: int) -> None:
    seen, query = [], {"limit": str(limit)}
    while True:
        page = model_page(CATALOG, query)
        seen += [m["id"] for m in page["data"]]
        if not page["has_more"]:
            break
        query = {"limit": str(limit), "after_id": page["last_id"]}
    assert seen == IDS
    back, query = [], {"limit": str(limit), "before_id": IDS[-1]}
    while True:
        page = model_page(CATALOG, query)
        back = [m["id"] for m in page["data"]] + back
        if not page["has_more"]:
            break
        query = {"limit": str(limit), "before_id": page["first_id"]}
    assert back == IDS[:-1]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"after_id": "nope"},
        {"before_id": "nope"},
        {"after_id": IDS[0], "before_id": IDS[2]},
    ],
)
def test_bad_parameters_are_400s(query: dict[str, str]) -> None:
    with pytest.raises(AnthropicError) as caught:
        model_page(CATALOG, query)
    assert caught.value.status == 400
