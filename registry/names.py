"""Name rules: three-level Unity Catalog names, flat workspace-registry names, aliases and tag keys."""
import re
import unicodedata
from dataclasses import dataclass

from registry.errors import InvalidParameter

MAX_NAME_LENGTH = 255
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_VERSION_ALIAS_RE = re.compile(r"^v\d+$", re.IGNORECASE)
# Unicode "format" characters include the bidi overrides (U+202A-U+202E, U+2066-U+2069) and zero-width
# characters: they make two different names look the same, so no name may hold them.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _has_control_or_bidi(value: str) -> bool:
    return any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value)


def validate_uc_part(value: object, kind: str) -> str:
    """One part of a three-level name (catalog, schema or model); returns it lower-cased."""
    if not isinstance(value, str) or value == "":
        raise InvalidParameter(f"{kind} name must be a non-empty string.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"{kind} name must be at most {MAX_NAME_LENGTH} characters, got {len(value)}.")
    for forbidden, label in ((".", "a period"), (" ", "a space"), ("/", "a slash")):
        if forbidden in value:
            raise InvalidParameter(f"{kind} name {value!r} is invalid: it must not contain {label}.")
    if _has_control_or_bidi(value) or any(ch.isspace() for ch in value):
        raise InvalidParameter(
            f"{kind} name is invalid: it must not contain whitespace, control or bidirectional characters."
        )
    return value.lower()


def validate_workspace_name(value: object) -> str:
    """A workspace-registry model name: case preserved, spaces allowed, as MLflow's registry accepts."""
    if not isinstance(value, str) or value.strip() == "":
        raise InvalidParameter("Registered model name cannot be empty.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"Registered model name must be at most {MAX_NAME_LENGTH} characters.")
    # As MLflow's own registry: '/' and ':' would make the name ambiguous in paths and models:/ URIs.
    if any(ch in value for ch in "/\\:"):
        raise InvalidParameter(f"Invalid model name {value!r}: names cannot contain '/', '\\' or ':'.")
    if ".." in value:
        raise InvalidParameter(f"Invalid model name {value!r}: names cannot contain '..'.")
    if _has_control_or_bidi(value):
        raise InvalidParameter("Invalid model name: names cannot contain control or bidirectional characters.")
    return value


@dataclass(frozen=True)
class ModelName:
    """A parsed model name: catalog and schema are None for a workspace-registry model."""

    catalog: str | None
    schema: str | None
    name: str

    @property
    def is_unity_catalog(self) -> bool:
        return self.catalog is not None

    @property
    def full_name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}" if self.catalog else self.name


def parse_model_name(value: object) -> ModelName:
    if not isinstance(value, str) or value == "":
        raise InvalidParameter("Registered model name cannot be empty.")
    parts = value.split(".")
    if len(parts) == 1:
        return ModelName(None, None, validate_workspace_name(value))
    if len(parts) != 3:
        raise InvalidParameter(
            f"Invalid model name {value[:300]!r}: expected a three-level name '<catalog>.<schema>.<model>' "
            "(or a workspace-registry name without any dot)."
        )
    catalog, schema, model = parts
    return ModelName(
        validate_uc_part(catalog, "Catalog"), validate_uc_part(schema, "Schema"), validate_uc_part(model, "Model")
    )


def parse_schema_name(value: object) -> tuple[str, str]:
    if not isinstance(value, str) or value.count(".") != 1:
        raise InvalidParameter(f"Invalid schema name {str(value)[:300]!r}: expected '<catalog>.<schema>'.")
    catalog, schema = value.split(".")
    return validate_uc_part(catalog, "Catalog"), validate_uc_part(schema, "Schema")


def validate_alias_syntax(value: object) -> str:
    """The characters and length of an alias (what a lookup or delete needs before it reaches the database)."""
    if not isinstance(value, str) or value == "":
        raise InvalidParameter("Alias must be a non-empty string.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"Alias must be at most {MAX_NAME_LENGTH} characters.")
    if not _ALIAS_RE.match(value):
        raise InvalidParameter(
            f"Invalid alias {value[:300]!r}: use only letters, digits, '_' and '-'."
        )
    return value


def validate_alias(value: object) -> str:
    """An alias that may be set: valid syntax and not one of the spellings models:/ URIs reserve."""
    validate_alias_syntax(value)
    if value.lower() == "latest" or _VERSION_ALIAS_RE.match(value):
        raise InvalidParameter(
            f"Invalid alias {value!r}: 'latest' and 'v<number>' are reserved (they mean the latest version and "
            "version <number> in models:/ URIs)."
        )
    return value


def validate_tag_key(key: object, *, max_key: int) -> str:
    if not isinstance(key, str) or key == "":
        raise InvalidParameter("Tag key must be a non-empty string.")
    if len(key) > max_key:
        raise InvalidParameter(f"Tag key must be at most {max_key} characters, got {len(key)}.")
    if _has_control_or_bidi(key):
        raise InvalidParameter("Tag key must not contain control or bidirectional characters.")
    return key


def validate_tag(key: object, value: object, *, max_key: int, max_value: int) -> tuple[str, str]:
    validate_tag_key(key, max_key=max_key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidParameter("Tag value must be a string.")
    if len(value) > max_value:
        raise InvalidParameter(f"Tag value must be at most {max_value} characters, got {len(value)}.")
    if "\x00" in value:
        # Values may hold newlines and tabs, but PostgreSQL text cannot hold NUL.
        raise InvalidParameter("Tag value must not contain NUL characters.")
    return key, value
