"""``mlops doctor``: the GitHub settings the framework's trust model relies on, checked through the REST API.

Pure checks over what a :class:`SettingsSource` reads (the real one is the settings reader in the Forge
adapters); each becomes a :class:`Finding` (ok / missing / unknown, with the fix in one line).
"""

from mlops.doctor.doctor import CHECKS, run_doctor
from mlops.doctor.findings import DoctorReport, Finding, Malformed, Status
from mlops.doctor.source import DEFAULT_ENVIRONMENT, DEFAULT_STATUS, DoctorOptions, SettingsSource

__all__ = ["CHECKS", "DEFAULT_ENVIRONMENT", "DEFAULT_STATUS", "DoctorOptions", "DoctorReport", "Finding",
           "Malformed", "SettingsSource", "Status", "run_doctor"]
