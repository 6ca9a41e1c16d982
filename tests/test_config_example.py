"""config.example.toml documents every key and loads as it is."""

from __future__ import annotations

import re
from pathlib import Path

from proaudit_ops.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.M))
    missing = set(Settings.model_fields) - documented
    assert not missing, f"config.example.toml does not document {sorted(missing)}"


def test_example_loads_with_each_profile() -> None:
    for profile in (None, "staging", "production", "sandbox"):
        settings = load_settings(str(EXAMPLE), profile)
        assert settings.paystack_max_retries == 3
