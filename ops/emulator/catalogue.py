"""The models the emulator serves: ListFoundationModels / ListInferenceProfiles and id lookup."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import attrs

from ops.emulator.responses import ServiceError, validation_error

ACCOUNT_ID = "123456789012"
PROFILE_REGIONS: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-southeast-1", "ap-southeast-2"),
    "global": (),
}
_PROFILE_TIME = 1_727_740_800.0  # 2024-10-01T00:00:00Z, a fixed createdAt/updatedAt
_DATE = re.compile(r"^\d{8}$")


@attrs.frozen(kw_only=True)
class FoundationModel:
    """One foundation model and the cross-region profile prefixes it is offered under."""

    model_id: str
    name: str
    provider: str
    inference_types: tuple[str, ...] = ("ON_DEMAND",)
    profiles: tuple[str, ...] = ()
    input_modalities: tuple[str, ...] = ("TEXT",)
    output_modalities: tuple[str, ...] = ("TEXT",)

    @property
    def anthropic(self) -> bool:
        """Whether the model speaks the Anthropic Messages format on InvokeModel."""
        return self.model_id.startswith("anthropic.")

    def summary(self, region: str) -> dict[str, Any]:
        """The FoundationModelSummary shape."""
        return {
            "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}",
            "modelId": self.model_id,
            "modelName": self.name,
            "providerName": self.provider,
            "inputModalities": list(self.input_modalities),
            "outputModalities": list(self.output_modalities),
            "responseStreamingSupported": self.output_modalities != ("EMBEDDING",),
            "customizationsSupported": [],
            "inferenceTypesSupported": list(self.inference_types),
            "modelLifecycle": {"status": "ACTIVE"},
        }

    def profile_summary(self, prefix: str, region: str) -> dict[str, Any]:
        """The InferenceProfileSummary shape of this model's `prefix.` profile."""
        profile_id = f"{prefix}.{self.model_id}"
        regions = PROFILE_REGIONS.get(prefix, ())
        arns = [f"arn:aws:bedrock:{r}::foundation-model/{self.model_id}" for r in regions]
        where = ", ".join(regions) or "all commercial regions"
        return {
            "inferenceProfileName": f"{prefix.upper()} {self.name}",
            "description": f"Routes requests to {self.name} in {where}.",
            "createdAt": _PROFILE_TIME,
            "updatedAt": _PROFILE_TIME,
            "inferenceProfileArn": (
                f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{profile_id}"
            ),
            "models": [{"modelArn": arn} for arn in arns]
            or [{"modelArn": f"arn:aws:bedrock:::foundation-model/{self.model_id}"}],
            "inferenceProfileId": profile_id,
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED",
        }


def display_name(name: str) -> str:
    """The display name of a model name: "claude-sonnet-4-5-20250929" → "Claude Sonnet 4.5"."""
    words: list[str] = []
    for part in name.split("-"):
        if _DATE.match(part):
            continue
        if part.isdigit() and words and words[-1][-1].isdigit():
            words[-1] += f".{part}"
        else:
            words.append(part.capitalize() if part.isalpha() else part)
    return " ".join(words)


def claude_models() -> list[FoundationModel]:
    """The Claude models of the shipped table: 3.x on demand, 4+ through profiles only."""
    text = resources.files("ops.emulator").joinpath("claude_models.csv").read_text()
    models = []
    for row in csv.DictReader(io.StringIO(text)):
        legacy = row["anthropic_name"].startswith("claude-3")
        models.append(
            FoundationModel(
                model_id=row["bedrock_id_us_profile"].removeprefix("us."),
                name=display_name(row["anthropic_name"]),
                provider="Anthropic",
                inference_types=("ON_DEMAND", "INFERENCE_PROFILE")
                if legacy
                else ("INFERENCE_PROFILE",),
                profiles=("us", "eu", "apac") if legacy else ("us", "eu", "apac", "global"),
                input_modalities=("TEXT", "IMAGE"),
            )
        )
    return models


def default_models() -> list[FoundationModel]:
    """The Claude table plus a few other providers' models."""
    others = [
        FoundationModel(
            model_id="amazon.nova-pro-v1:0",
            name="Nova Pro",
            provider="Amazon",
            inference_types=("ON_DEMAND", "INFERENCE_PROFILE"),
            profiles=("us", "eu", "apac"),
            input_modalities=("TEXT", "IMAGE", "VIDEO"),
        ),
        FoundationModel(
            model_id="meta.llama3-3-70b-instruct-v1:0",
            name="Llama 3.3 70B Instruct",
            provider="Meta",
            inference_types=("INFERENCE_PROFILE",),
            profiles=("us",),
        ),
        FoundationModel(
            model_id="amazon.titan-embed-text-v2:0",
            name="Titan Text Embeddings V2",
            provider="Amazon",
            output_modalities=("EMBEDDING",),
        ),
    ]
    return [*claude_models(), *others]


@attrs.frozen
class Resolved:
    """A model id as called: the model, and the profile prefix if called through one."""

    model: FoundationModel
    profile: str | None


class Catalogue:
    """The mutable model list of one emulator; tests add models at runtime."""

    def __init__(self, region: str, models: Iterable[FoundationModel]) -> None:
        self._region = region
        self._models: dict[str, FoundationModel] = {}
        self._ids: dict[str, Resolved] = {}
        for model in models:
            self.add(model)

    def __repr__(self) -> str:
        return f"<Catalogue models={len(self._models)} ids={len(self._ids)}>"

    @property
    def models(self) -> list[FoundationModel]:
        """Every model, in catalogue order."""
        return list(self._models.values())

    def add(self, model: FoundationModel) -> None:
        """Add or replace a model and its profiles."""
        self._models[model.model_id] = model
        self._ids[model.model_id] = Resolved(model, None)
        for prefix in model.profiles:
            self._ids[f"{prefix}.{model.model_id}"] = Resolved(model, prefix)

    def resolve(self, model_id: str) -> Resolved | None:
        """Look up a base id, a profile id, or the ARN of either."""
        if model_id.startswith("arn:"):
            model_id = model_id.rsplit("/", 1)[-1]
        return self._ids.get(model_id)

    def foundation_models(self, query: Mapping[str, str]) -> dict[str, Any]:
        """ListFoundationModels, with its by* filters."""
        provider = query.get("byProvider", "").lower()
        output = query.get("byOutputModality")
        inference = query.get("byInferenceType")
        if query.get("byCustomizationType"):
            return {"modelSummaries": []}
        models = [
            model.summary(self._region)
            for model in self._models.values()
            if (not provider or model.provider.lower() == provider)
            and (output is None or output in model.output_modalities)
            and (inference is None or inference in model.inference_types)
        ]
        return {"modelSummaries": models}

    def foundation_model(self, model_id: str) -> dict[str, Any]:
        """GetFoundationModel."""
        model = self._models.get(model_id.rsplit("/", 1)[-1])
        if model is None:
            raise ServiceError(404, "ResourceNotFoundException", "The model was not found.")
        return {"modelDetails": model.summary(self._region)}

    def _profiles(self) -> list[dict[str, Any]]:
        return [
            model.profile_summary(prefix, self._region)
            for model in self._models.values()
            for prefix in model.profiles
        ]

    def inference_profiles(self, query: Mapping[str, str]) -> dict[str, Any]:
        """ListInferenceProfiles, paginated by maxResults/nextToken, filtered by `type`."""
        try:
            limit = int(query.get("maxResults", "1000"))
            start = int(base64.b64decode(query.get("nextToken", "MA=="), validate=True))
        except (ValueError, binascii.Error):
            raise validation_error("Invalid maxResults or nextToken.") from None
        if not 1 <= limit <= 1000 or start < 0:
            raise validation_error("maxResults must be between 1 and 1000.")
        wanted = query.get("type", "SYSTEM_DEFINED")
        profiles = self._profiles() if wanted == "SYSTEM_DEFINED" else []
        page: dict[str, Any] = {"inferenceProfileSummaries": profiles[start : start + limit]}
        if start + limit < len(profiles):
            page["nextToken"] = base64.b64encode(str(start + limit).encode()).decode()
        return page

    def inference_profile(self, profile_id: str) -> dict[str, Any]:
        """GetInferenceProfile."""
        resolved = self.resolve(profile_id)
        if resolved is None or resolved.profile is None:
            raise ServiceError(404, "ResourceNotFoundException", "The profile was not found.")
        return resolved.model.profile_summary(resolved.profile, self._region)


def model_from_request(body: Mapping[str, Any]) -> FoundationModel:
    """A model described by POST /_emulator/models (FoundationModelSummary-like keys)."""
    model_id = body.get("modelId")
    if not isinstance(model_id, str) or "." not in model_id:
        raise validation_error("modelId must look like 'provider.name-v1:0'")
    provider = model_id.split(".", 1)[0]
    anthropic = provider == "anthropic"
    try:
        return FoundationModel(
            model_id=model_id,
            name=str(body.get("modelName") or display_name(model_id.split(".", 1)[1])),
            provider=str(body.get("providerName") or provider.capitalize()),
            inference_types=tuple(
                body.get("inferenceTypesSupported")
                or (("INFERENCE_PROFILE",) if anthropic else ("ON_DEMAND",))
            ),
            profiles=tuple(
                body.get("profiles") or (("us", "eu", "apac", "global") if anthropic else ())
            ),
            input_modalities=tuple(body.get("inputModalities") or ("TEXT",)),
            output_modalities=tuple(body.get("outputModalities") or ("TEXT",)),
        )
    except TypeError as exc:
        raise validation_error(f"bad model description: {exc}") from exc
