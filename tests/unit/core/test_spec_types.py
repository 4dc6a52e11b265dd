"""The constrained scalar types every spec shares, and the Strict base."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops.core.spec.types import (
    Cron,
    DnsLabel,
    FieldError,
    K8sVersion,
    Owner,
    Quantity,
    RelativePy,
    Sha256,
    Strict,
    VersionId,
    github_owner,
)


class Box(Strict):
    label: DnsLabel | None = None
    owner: Owner | None = None
    version: VersionId | None = None
    quantity: Quantity | None = None
    k8s: K8sVersion | None = None
    cron: Cron | None = None
    digest: Sha256 | None = None
    code: RelativePy | None = None


def accepts(field: str, value: Any) -> Any:
    return getattr(Box.model_validate({field: value}), field)


def refusal(field: str, value: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Box.model_validate({field: value})
    return str(info.value.errors()[0]["msg"])


@pytest.mark.parametrize("value", ["a", "digits-cnn", "a1", "1a", "x" * 63])
def test_dns_label_ok(value: str) -> None:
    assert accepts("label", value) == value


@pytest.mark.parametrize("value", ["", "-a", "a-", "A", "a_b", "a.b", "../etc", "x" * 64, "é"])
def test_dns_label_refused(value: str) -> None:
    assert "is not a DNS-1123 label; expected lower-case letters" in refusal("label", value)


@pytest.mark.parametrize(("value", "written"), [
    ("alice", "@alice"), ("@alice", "@alice"), ("ml-platform/tabular", "@ml-platform/tabular"),
    ("@org/team.name", "@org/team.name"), ("A1", "@A1"), ("a-b-c", "@a-b-c"), ("x" * 39, "@" + "x" * 39),
    ("org/team_x", "@org/team_x"), ("ana@example.com", "ana@example.com"), ("a.b+c@mail.example.org", None),
])
def test_owner_ok(value: str, written: str | None) -> None:
    assert accepts("owner", value) == value
    assert github_owner(value) == (written or value)


@pytest.mark.parametrize("value", ["", "a b", "-x", "x-", "a--b", "org/", "a/b/c", "x" * 40, "@", "@@a", "@-a/b",
                                   "org/-team", "alice\n", "ana@", "ana@example", "ana@ex..com", "@ana@example.com"])
def test_owner_refused(value: str) -> None:
    message = refusal("owner", value)
    assert "is not a GitHub user or 'org/team' (nor an e-mail address); expected a user like octocat (1-39 " \
           "letters, digits or single hyphens, not starting or ending with '-'), a team like my-org/my-team, or " \
           "an e-mail address" in message


@pytest.mark.parametrize("value", ["20250101-abcdef12", "v1", "1.2.3"])
def test_version_ok(value: str) -> None:
    assert accepts("version", value) == value


@pytest.mark.parametrize("value", ["V1", "v1.", "-v1", "a" * 64, "a/b"])
def test_version_refused(value: str) -> None:
    assert "is not a version id" in refusal("version", value)


@pytest.mark.parametrize(("value", "expected"), [
    ("500m", "500m"), ("2", "2"), ("1.5", "1.5"), ("512Mi", "512Mi"), ("1Gi", "1Gi"), ("1e3", "1e3"),
    (".5", ".5"), (2, "2"), (0.25, "0.25"), (0, "0"),
])
def test_quantity_ok(value: Any, expected: str) -> None:
    assert accepts("quantity", value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("2 cores", "'2 cores' is not a Kubernetes quantity; expected e.g. '500m'"),
    ("1GB", "'1GB' is not a Kubernetes quantity"),
    ("-1", "'-1' is not a Kubernetes quantity"),
    (-1, "-1 is negative; expected a Kubernetes quantity ≥ 0"),
    (True, "Input should be a valid string"),
])
def test_quantity_refused(value: Any, message: str) -> None:
    assert message in refusal("quantity", value)


@pytest.mark.parametrize("value", ["1.25", "1.31", "1.37"])
def test_k8s_version_ok(value: str) -> None:
    assert accepts("k8s", value) == value


@pytest.mark.parametrize(("value", "message"), [
    ("1.24", "'1.24' is not a supported Kubernetes version; expected '1.25' … '1.37'"),
    ("1.99", "'1.99' is not a supported Kubernetes version"),
    ("v1.31", "is not a supported Kubernetes version"),
    (1.3, "1.3 is a number; expected the Kubernetes version as a quoted string"),
    (1, "1 is a number"),
])
def test_k8s_version_refused(value: Any, message: str) -> None:
    assert message in refusal("k8s", value)


@pytest.mark.parametrize("value", ["17 */6 * * *", "0 0 * * 1-5", "*/5 1,2 3 4 5", "0 0 1 1 *"])
def test_cron_ok(value: str) -> None:
    assert accepts("cron", value) == value


@pytest.mark.parametrize("value", ["every hour", "* * * *", "* * * * * *", "a * * * *", "@daily"])
def test_cron_refused(value: str) -> None:
    assert "is not a cron schedule; expected five fields like '17 */6 * * *'" in refusal("cron", value)


def test_sha256() -> None:
    good = "sha256:" + "0123456789abcdef" * 4
    assert accepts("digest", good) == good
    for bad in ["0123", "sha256:" + "A" * 64, "md5:" + "a" * 64, "sha256:" + "a" * 63]:
        assert "is not a digest; expected 'sha256:' and 64 hex digits" in refusal("digest", bad)


@pytest.mark.parametrize("value", ["model.py", "src/net.py"])
def test_relative_py_ok(value: str) -> None:
    assert accepts("code", value) == value


@pytest.mark.parametrize("value", ["/etc/passwd.py", "../x.py", "a/../../x.py", "model.txt", "a//b.py", "a\\b.py"])
def test_relative_py_refused(value: str) -> None:
    assert "is not a Python file inside the model directory" in refusal("code", value)


def test_strict_forbids_unknown_keys_coercion_and_mutation() -> None:
    with pytest.raises(ValidationError) as info:
        Box.model_validate({"lable": "x"})
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError):
        Box.model_validate({"label": 1})  # no int → str coercion
    box = Box(label="a")
    with pytest.raises(ValidationError):
        box.label = "b"  # type: ignore[misc]


def test_field_error_keeps_its_field() -> None:
    err = FieldError("a", "bad a")
    assert err.field == "a"
    assert str(err) == "bad a"
    assert isinstance(err, ValueError)
