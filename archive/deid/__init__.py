"""De-identification: the PS3.15 Basic Application Level Confidentiality Profile and research exports.

- ``profile``: the profile's action table and its options;
- ``keys``: the secret that makes pseudonyms, new UIDs and date shifts repeatable;
- ``dataset``: de-identifying one dataset;
- ``export``: studies from the vault to DICOM files and a Parquet table (``limestone deid``).
"""

from archive.deid.dataset import DeidResult, burned_in_reason, deidentify
from archive.deid.keys import DeidKey, DeidKeyError, load_key
from archive.deid.profile import DatesValues, Options

__all__ = ["DeidResult", "burned_in_reason", "deidentify", "DeidKey", "DeidKeyError", "load_key",
           "DatesValues", "Options"]
