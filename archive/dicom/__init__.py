"""DICOM knowledge: keyword-to-column map, records read from datasets, enums, pixels."""
