"""The one map from DICOM keywords to store columns, per level of the information model.

Each entry is ``column: (keyword, converter)``. Records are built from a dataset by this map only
(see models.py), so a new column is one line here plus a migration.
"""

from __future__ import annotations

from archive.dicom import values as v

PATIENT_COLUMNS = {
    "patient_id": ("PatientID", v.text),
    "issuer_of_patient_id": ("IssuerOfPatientID", v.text),
    "patient_name": ("PatientName", v.text),
    "patient_birth_date": ("PatientBirthDate", v.to_date),
    "patient_sex": ("PatientSex", v.text),
    "other_patient_ids": ("OtherPatientIDs", v.to_texts),
}

STUDY_COLUMNS = {
    "study_instance_uid": ("StudyInstanceUID", v.text),
    "accession_number": ("AccessionNumber", v.text),
    "study_id": ("StudyID", v.text),
    "study_date": ("StudyDate", v.to_date),
    "study_time": ("StudyTime", v.to_time),
    "study_description": ("StudyDescription", v.text),
    "referring_physician_name": ("ReferringPhysicianName", v.text),
    "institution_name": ("InstitutionName", v.text),
}

SERIES_COLUMNS = {
    "series_instance_uid": ("SeriesInstanceUID", v.text),
    "study_instance_uid": ("StudyInstanceUID", v.text),
    "modality": ("Modality", v.text),
    "body_part_examined": ("BodyPartExamined", v.text),
    "series_description": ("SeriesDescription", v.text),
    "protocol_name": ("ProtocolName", v.text),
    "frame_of_reference_uid": ("FrameOfReferenceUID", v.text),
    "station_name": ("StationName", v.text),
    "manufacturer": ("Manufacturer", v.text),
    "manufacturer_model_name": ("ManufacturerModelName", v.text),
    "series_number": ("SeriesNumber", v.to_int),
    "series_date": ("SeriesDate", v.to_date),
    "series_time": ("SeriesTime", v.to_time),
}

INSTANCE_COLUMNS = {
    "sop_instance_uid": ("SOPInstanceUID", v.text),
    "sop_class_uid": ("SOPClassUID", v.text),
    "series_instance_uid": ("SeriesInstanceUID", v.text),
    "study_instance_uid": ("StudyInstanceUID", v.text),
    "instance_number": ("InstanceNumber", v.to_int),
    "rows": ("Rows", v.to_int),
    "columns": ("Columns", v.to_int),
    "number_of_frames": ("NumberOfFrames", v.to_int),
    "pixel_spacing": ("PixelSpacing", v.to_floats),
    "slice_thickness": ("SliceThickness", v.to_float),
    "image_position_patient": ("ImagePositionPatient", v.to_floats),
    "image_orientation_patient": ("ImageOrientationPatient", v.to_floats),
    "slice_location": ("SliceLocation", v.to_float),
    "window_center": ("WindowCenter", v.to_float),
    "window_width": ("WindowWidth", v.to_float),
    "photometric_interpretation": ("PhotometricInterpretation", v.text),
    "bits_stored": ("BitsStored", v.to_int),
    "acquisition_datetime": ("AcquisitionDateTime", v.dt_value),
    "ctdi_vol": ("CTDIvol", v.to_float),
    "kvp": ("KVP", v.to_float),
    "exposure_index": ("ExposureIndex", v.to_float),
    "deviation_index": ("DeviationIndex", v.to_float),
}

# Study-level columns that the writer derives rather than reads from one dataset.
STUDY_DERIVED = ("patient_key", "study_datetime", "modalities", "body_part_examined", "site",
                 "number_of_series", "number_of_instances", "bytes")
