"""Building blocks of the spec's pydantic models: the strict section base and tagged unions."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Strict, StrictBool, StrictInt, Tag

Float = Annotated[float, Strict()]
Int = StrictInt
Bool = StrictBool


class Section(BaseModel):
    """Base of every spec section: frozen, unknown keys refused, NaN/inf refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )


def tagged(registry: dict[str, type[BaseModel]], key: str, default: str | None) -> Any:
    """A union of the registry's models, picked by the value of `key` (or `default` when absent)."""

    def pick(value: Any) -> str | None:
        if isinstance(value, dict):
            return value.get(key, default)
        return getattr(value, key, None)

    members = tuple(Annotated[model, Tag(tag)] for tag, model in registry.items())
    if len(members) == 1:
        return next(iter(registry.values()))
    return Annotated[
        Union[members],  # noqa: UP007 - a Union built from a tuple
        Discriminator(
            pick,
            custom_error_type="unknown_variant",
            custom_error_message=f"unknown {key}: expected one of {', '.join(registry)}",
            custom_error_context={"key": key},
        ),
    ]
