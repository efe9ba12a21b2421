"""The configuration reference (docs/configuration.md) and the editors' schema (config/schema.json)
are generated from the config models: stale copies fail here, and the schema accepts exactly what
the shipped configs hold."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from config import AppConfig, Strict
from tools import config_reference

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "config").glob("*.yaml"))


def test_generated_files_are_current():
    for path, text in config_reference.rendered().items():
        assert path.read_text() == text, f"{path.relative_to(REPO)} is stale: run python -m tools.config_reference"
    assert config_reference.main(["--check"]) == 0


def test_every_field_has_a_description():
    def models(model):
        yield model
        for field in model.model_fields.values():
            for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
                for inner in [arg, *getattr(arg, "__args__", ())]:
                    if isinstance(inner, type) and issubclass(inner, Strict):
                        yield from models(inner)

    missing = {f"{m.__name__}.{name}" for m in models(AppConfig) for name, f in m.model_fields.items() if not f.description}
    assert not missing


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_each_config_names_the_schema_and_passes_it(path):
    text = path.read_text()
    assert text.splitlines()[0] == config_reference.SCHEMA_LINE
    jsonschema.validate(yaml.safe_load(text), json.loads(config_reference.SCHEMA_PATH.read_text()))


def test_schema_rejects_what_load_config_rejects():
    schema = json.loads(config_reference.SCHEMA_PATH.read_text())
    raw = yaml.safe_load((REPO / "config" / "default.yaml").read_text())
    raw["removalPolicy"] = "KEEP"
    with pytest.raises(jsonschema.ValidationError, match="'KEEP' is not one of"):
        jsonschema.validate(raw, schema)
    raw = yaml.safe_load((REPO / "config" / "default.yaml").read_text())
    raw["datasetGroups"][0]["recomenders"] = []
    with pytest.raises(jsonschema.ValidationError, match="Additional properties are not allowed"):
        jsonschema.validate(raw, schema)


def test_the_reference_documents_the_environment_choice():
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert "## Choosing the environment" in doc and "There is no default" in doc
    assert "| `minProvisionedTPS` | integer | `1` |" in doc
