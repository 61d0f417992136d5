-- Department metrics as views, so the dashboard and the notebooks get the same numbers.
-- Layers: metric_studies only renames and derives per-study fields; the other views aggregate.

-- One row per study with the fields every metric uses. A study's modality for metrics is its
-- first imaging modality (reports, key objects and presentation states do not count as exams).
CREATE VIEW metric_studies AS
WITH source AS (
    SELECT * FROM studies
), renamed AS (
    SELECT
        study_instance_uid,
        study_date,
        coalesce(study_datetime, CAST(study_date AS TIMESTAMP)) AS study_datetime,
        study_time,
        coalesce(site, '(no site)') AS site,
        coalesce(list_filter(modalities, lambda m: m NOT IN ('SR', 'KO', 'PR', 'DOC'))[1],
                 modalities[1], 'OT') AS modality,
        body_part_examined,
        coalesce(number_of_instances, 0) AS instances,
        coalesce(bytes, 0) AS bytes,
        first_ingested_at
    FROM source
)
SELECT * FROM renamed;

-- Exam volumes per day, site and modality (weeks and months are sums of days).
CREATE VIEW metric_exam_volume_daily AS
SELECT study_date, site, modality,
       count(*) AS studies, sum(instances) AS instances, sum(bytes) AS bytes
FROM metric_studies
WHERE study_date IS NOT NULL
GROUP BY study_date, site, modality;

-- Workload by ISO weekday (1 = Monday) and hour of the study time.
CREATE VIEW metric_workload AS
SELECT study_date, isodow(study_date) AS weekday, hour(study_time) AS hour, site, modality,
       count(*) AS studies
FROM metric_studies
WHERE study_date IS NOT NULL AND study_time IS NOT NULL
GROUP BY study_date, weekday, hour, site, modality;

-- Turnaround the store can measure: from the exam to its arrival in the archive.
-- (Report times are not in the store; a bulk import of old studies shows as a long delay.)
CREATE VIEW metric_turnaround AS
SELECT study_instance_uid, study_date, site, modality,
       date_diff('minute', study_datetime, first_ingested_at) / 60.0 AS hours_to_archive
FROM metric_studies
WHERE study_datetime IS NOT NULL AND first_ingested_at IS NOT NULL
  AND first_ingested_at >= study_datetime;

-- Storage by month of the exam, site and modality (cumulated into growth by the reader).
CREATE VIEW metric_storage_monthly AS
SELECT CAST(date_trunc('month', study_date) AS DATE) AS month, site, modality,
       count(*) AS studies, sum(instances) AS instances, sum(bytes) AS bytes
FROM metric_studies
WHERE study_date IS NOT NULL
GROUP BY month, site, modality;

-- Ingest runs with their duration and a plain outcome.
CREATE VIEW metric_ingest_runs AS
SELECT run_id, kind, source, coalesce(site, '(no site)') AS site, started_at, finished_at,
       date_diff('millisecond', started_at, coalesce(finished_at, started_at)) / 1000.0 AS seconds,
       files_seen, imported, already_present, skipped, quarantined, failed, bytes, status
FROM ingest_runs;

-- Quarantined files per day and kind of reason (the text before the first colon or bracket).
CREATE VIEW metric_quarantine AS
SELECT CAST(quarantined_at AS DATE) AS day,
       trim(regexp_extract(coalesce(reason, 'unknown'), '^[^:(]*')) AS reason_kind,
       count(*) AS files, sum(coalesce(bytes, 0)) AS bytes, max(quarantined_at) AS last_at
FROM quarantine
GROUP BY day, reason_kind;
