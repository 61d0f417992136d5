"""Limestone's domain library: DICOM model, analytic store, vault, ingest. Imports no UI."""
