"""Constrained scalar types shared by every spec, with messages that say what is expected."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from mlops.core import cron

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ACCOUNT = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")  # a GitHub user or organisation: single hyphens inside
_TEAM_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
_VERSION = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_K8S_VERSION = re.compile(r"^1\.(\d+)$")
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
SUPPORTED_K8S = range(25, 38)  # kubernetes-validate ships schemas for 1.25 … 1.37


class FieldError(ValueError):
    """A model validator's error about one field: reported at that field's position, not the mapping's."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Strict(BaseModel):
    """Base for every spec: unknown keys are errors, types are not coerced, objects are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label; expected lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def is_email(owner: str) -> bool:
    """Whether ``owner`` is an e-mail address (an ``@`` after the first character)."""
    return "@" in owner[1:]


def _owner(value: str) -> str:
    if is_email(value):
        valid = len(value) <= 254 and bool(_EMAIL.fullmatch(value))
    else:
        account, slash, team = value.removeprefix("@").partition("/")
        valid = (len(account) <= 39 and bool(_ACCOUNT.fullmatch(account))
                 and (not slash or (len(team) <= 255 and bool(_TEAM_SLUG.fullmatch(team)))))
    if not valid:
        raise ValueError(f"{value!r} is not a GitHub user or 'org/team' (nor an e-mail address); expected a user "
                         "like octocat (1-39 letters, digits or single hyphens, not starting or ending with '-'), "
                         "a team like my-org/my-team, or an e-mail address; the '@' is optional (in YAML quote "
                         "it: \"@octocat\")")
    return value


def github_owner(owner: str) -> str:
    """``owner`` as CODEOWNERS writes it: ``@user``, ``@org/team`` or the e-mail address as is."""
    return owner if is_email(owner) else "@" + owner.removeprefix("@")


def _version(value: str) -> str:
    if len(value) > 63 or not _VERSION.match(value):
        raise ValueError(f"{value!r} is not a version id; expected lower-case letters, digits, '.' and '-' (≤63)")
    return value


def _quantity(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative; expected a Kubernetes quantity ≥ 0")
        value = str(value)
    if isinstance(value, str) and not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity; expected e.g. '500m', '2', '512Mi' or '1Gi'")
    return value


def _k8s_version_type(value: Any) -> Any:
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise ValueError(f"{value!r} is a number; expected the Kubernetes version as a quoted string, e.g. \"1.31\" "
                         "(unquoted 1.30 reads as 1.3)")
    return value


def _k8s_version(value: str) -> str:
    match = _K8S_VERSION.match(value)
    if not match or int(match.group(1)) not in SUPPORTED_K8S:
        raise ValueError(f"{value!r} is not a supported Kubernetes version; expected '1.25' … '1.37' (a quoted string)")
    return value


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(f"{value!r} is not a cron schedule; expected five fields like '17 */6 * * *'")
    try:
        cron.parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a cron schedule ({exc}); expected minute 0-59, hour 0-23, day 1-31, "
                         "month 1-12, weekday 0-6") from None
    return value


def _relative_py(value: str) -> str:
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or "" in parts or "\\" in value or not value.endswith(".py"):
        raise ValueError(f"{value!r} is not a Python file inside the model directory; expected a relative path "
                         "like 'model.py'")
    return value


def _slice_expression(value: str) -> str:
    from mlops.core.sliceexpr import ExpressionError, parse

    try:
        parse(value)
    except ExpressionError as exc:
        raise ValueError(f"{value!r} is not an allowed slice expression: {exc}") from None
    return value


def _sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError(f"{value!r} is not a digest; expected 'sha256:' and 64 hex digits")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Owner = Annotated[str, AfterValidator(_owner)]
VersionId = Annotated[str, AfterValidator(_version)]
Quantity = Annotated[str, BeforeValidator(_quantity)]
K8sVersion = Annotated[str, BeforeValidator(_k8s_version_type), AfterValidator(_k8s_version)]
Cron = Annotated[str, AfterValidator(_cron)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
RelativePy = Annotated[str, AfterValidator(_relative_py)]
SliceExpression = Annotated[str, AfterValidator(_slice_expression)]
