"""MaskingSettings from the policy's ``masking:`` block: validated, errors name the key."""

from __future__ import annotations

import pytest

from kgate.proxy.masking import DETECTOR_NAMES, MaskingSettings


def test_defaults_from_none() -> None:
    s = MaskingSettings.from_policy(None)
    assert s == MaskingSettings()
    assert s.detectors == DETECTOR_NAMES


def test_full_block() -> None:
    s = MaskingSettings.from_policy({
        "secretEnvNames": "(?i)(pass|secret)",
        "detectors": ["jwt", "private-key"],
        "custom": [{"name": "internal-token", "regex": "tok_[A-Za-z0-9]{32}"}],
    })
    assert s.secret_env_names == "(?i)(pass|secret)"
    assert s.detectors == ("jwt", "private-key")
    assert s.custom == (("internal-token", "tok_[A-Za-z0-9]{32}"),)


@pytest.mark.parametrize(("block", "key"), [
    ({"detector": ["jwt"]}, "masking.detector"),
    ({"detectors": ["jwt", "nope"]}, "masking.detectors"),
    ({"detectors": "jwt"}, "masking.detectors"),
    ({"secretEnvNames": "(unclosed"}, "masking.secretEnvNames"),
    ({"secretEnvNames": 3}, "masking.secretEnvNames"),
    ({"custom": [{"name": "x", "regex": "[bad"}]}, "masking.custom[0].regex"),
    ({"custom": [{"name": "x", "regex": "a*"}]}, "masking.custom[0].regex"),
    ({"custom": [{"name": "x"}]}, "masking.custom[0].regex"),
    ({"custom": [{"name": "x", "regex": "a", "flags": "i"}]}, "masking.custom[0].flags"),
    ({"custom": [{"name": "x", "regex": "a"}, {"name": "x", "regex": "b"}]},
     "masking.custom[1].name"),
    ({"custom": {"name": "x"}}, "masking.custom"),
])
def test_errors_name_the_key(block: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError) as e:
        MaskingSettings.from_policy(block)
    assert str(e.value).startswith(key)


def test_not_a_mapping() -> None:
    with pytest.raises(ValueError, match="masking"):
        MaskingSettings.from_policy(["jwt"])  # type: ignore[arg-type]
