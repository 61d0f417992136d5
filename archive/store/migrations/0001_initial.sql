-- Limestone analytic store, first schema.
-- Column names follow the DICOM keywords in snake_case (see archive/dicom/columns.py).
-- DuckLake has no primary keys: uniqueness (SOP Instance UID, Study/Series UID, patient key)
-- is kept by the writer in archive/store/writer.py.

CREATE TABLE sites (
    site VARCHAR NOT NULL,               -- short code, e.g. 'NORTH'
    name VARCHAR,                        -- hospital name
    ae_titles VARCHAR[],                 -- AE titles of the site's PACS and modalities
    issuer_of_patient_id VARCHAR,        -- the site's MRN issuer (IssuerOfPatientID)
    institution_names VARCHAR[],         -- InstitutionName values that identify the site
    created_at TIMESTAMP
);

CREATE TABLE patients (
    patient_key VARCHAR NOT NULL,        -- sha256 of issuer + PatientID: stable, carries no PHI
    patient_id VARCHAR,
    issuer_of_patient_id VARCHAR,
    site VARCHAR,
    patient_name VARCHAR,
    patient_birth_date DATE,
    patient_sex VARCHAR,
    other_patient_ids VARCHAR[],
    updated_at TIMESTAMP
);

CREATE TABLE studies (
    study_instance_uid VARCHAR NOT NULL,
    patient_key VARCHAR,
    accession_number VARCHAR,
    study_id VARCHAR,
    study_date DATE,
    study_time TIME,
    study_datetime TIMESTAMP,
    study_description VARCHAR,
    modalities VARCHAR[],
    body_part_examined VARCHAR,
    referring_physician_name VARCHAR,
    institution_name VARCHAR,
    site VARCHAR,
    number_of_series INTEGER,
    number_of_instances INTEGER,
    bytes BIGINT,
    first_ingested_at TIMESTAMP,
    updated_at TIMESTAMP
);

CREATE TABLE series (
    series_instance_uid VARCHAR NOT NULL,
    study_instance_uid VARCHAR NOT NULL,
    modality VARCHAR,
    body_part_examined VARCHAR,
    series_description VARCHAR,
    protocol_name VARCHAR,
    frame_of_reference_uid VARCHAR,
    station_name VARCHAR,
    manufacturer VARCHAR,
    manufacturer_model_name VARCHAR,
    series_number INTEGER,
    series_date DATE,
    series_time TIME,
    number_of_instances INTEGER,
    bytes BIGINT,
    updated_at TIMESTAMP
);

CREATE TABLE instances (
    sop_instance_uid VARCHAR NOT NULL,
    sop_class_uid VARCHAR,
    series_instance_uid VARCHAR NOT NULL,
    study_instance_uid VARCHAR NOT NULL,
    instance_number INTEGER,
    rows INTEGER,
    columns INTEGER,
    number_of_frames INTEGER,
    pixel_spacing DOUBLE[],
    slice_thickness DOUBLE,
    image_position_patient DOUBLE[],
    image_orientation_patient DOUBLE[],
    slice_location DOUBLE,
    window_center DOUBLE,
    window_width DOUBLE,
    photometric_interpretation VARCHAR,
    bits_stored INTEGER,
    transfer_syntax_uid VARCHAR,
    acquisition_datetime TIMESTAMP,
    ctdi_vol DOUBLE,
    dlp DOUBLE,
    kvp DOUBLE,
    exposure_index DOUBLE,
    deviation_index DOUBLE,
    bytes BIGINT,
    content_hash VARCHAR NOT NULL,       -- sha256 of the original file: the vault's name for it
    ingest_run_id VARCHAR,
    ingested_at TIMESTAMP
);

CREATE TABLE ingest_runs (
    run_id VARCHAR NOT NULL,
    kind VARCHAR,                        -- import | demo | pull | listen
    source VARCHAR,                      -- what was read: a path summary, a node name
    site VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    files_seen BIGINT,
    imported BIGINT,
    already_present BIGINT,
    skipped BIGINT,
    quarantined BIGINT,
    failed BIGINT,
    bytes BIGINT,
    status VARCHAR                       -- running | ok | failed | interrupted
);

CREATE TABLE quarantine (
    content_hash VARCHAR NOT NULL,       -- name of the kept copy under <home>/quarantine/
    ingest_run_id VARCHAR,
    source_name VARCHAR,                 -- file name only, never the full path
    reason VARCHAR,
    bytes BIGINT,
    quarantined_at TIMESTAMP
);
