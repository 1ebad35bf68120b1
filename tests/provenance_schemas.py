"""The in-toto Statement v1 and SLSA v1 provenance JSON schemas vendored under
tests/schemas/ (see its README: written from the specifications' fields)."""

import json
from pathlib import Path

import jsonschema

SCHEMAS = Path(__file__).parent / "schemas"


def _validator(name):
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validate_statement(statement):
    """Raise jsonschema.ValidationError unless `statement` is an in-toto
    Statement v1 whose predicate is SLSA v1 provenance."""
    _validator("in-toto-statement-v1.json").validate(statement)
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    _validator("slsa-provenance-v1.json").validate(statement["predicate"])
