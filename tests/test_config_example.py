"""config.example.toml documents every key and loads as it is."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from proaudit_ops.config import Settings, load_settings
from proaudit_ops.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy the operator would make: the checkout's own folders and owner are not under test."""
    copy = tmp_path / "config.toml"
    shutil.copyfile(EXAMPLE, copy)
    copy.chmod(0o600)
    return copy


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.M))
    missing = set(Settings.model_fields) - documented
    assert not missing, f"config.example.toml does not document {sorted(missing)}"


def test_example_loads_with_each_profile(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for profile in (None, "sandbox"):
        assert load_settings(str(example), profile).paystack_max_retries == 3
    monkeypatch.setenv("DATABASE_URL", "postgresql://proaudit@db.internal:5432/billing")
    for profile in ("staging", "production"):
        assert load_settings(str(example), profile).paystack_max_retries == 3


@pytest.mark.parametrize("profile", ["staging", "production"])
def test_example_profiles_as_shipped_do_not_fall_back_to_the_sandbox(example: Path, profile: str) -> None:
    """The example's profiles are commented out: naming one is an error, not the sandbox."""
    with pytest.raises(ConfigError) as err:
        load_settings(str(example), profile)
    assert f"profile {profile!r}" in err.value.message
    assert "neither a database nor a Paystack key" in err.value.message
