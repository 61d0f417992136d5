-- Repeat metrics at archive scale, part two: the refresh (archive/repeats/facts.py) also stores
-- the daily exam counts and the prior-use episodes, so the page and the report read small tables.
-- The definitions are unchanged: repeat_study_facts (0004) and prior_use_episodes (0006, live over
-- prior_use_events) are what the refresh copies; tests check the copies equal them.

-- repeat_facts aggregated per day, site, exam class and modality family.
CREATE TABLE repeat_exam_daily (
    day DATE,
    site VARCHAR,
    exam_class VARCHAR,
    class_name VARCHAR,
    modality VARCHAR,
    studies BIGINT,
    repeats BIGINT,
    avoidable_repeats BIGINT,
    refreshed_at TIMESTAMP
);

-- prior_use_episodes as of the refresh, with the used prior's dose.
CREATE TABLE prior_use_facts (
    person_key VARCHAR,
    exam_class VARCHAR,
    episode BIGINT,
    class_name VARCHAR,
    modality_family VARCHAR,
    window_days INTEGER,
    fee DOUBLE,
    first_used_at TIMESTAMP,
    last_used_at TIMESTAMP,
    site VARCHAR,
    prior_uid VARCHAR,
    prior_site VARCHAR,
    prior_datetime TIMESTAMP,
    kinds VARCHAR[],
    events BIGINT,
    next_exam_uid VARCHAR,
    next_exam_at TIMESTAMP,
    outcome VARCHAR,
    prior_ct_dlp_mgy_cm DOUBLE,
    prior_ct_ctdi_vol_mgy DOUBLE,
    prior_xr_detector_kerma_ugy DOUBLE,
    refreshed_at TIMESTAMP
);

-- Staleness: studies arrived, patients linked, or prior uses recorded after the refresh. (Edits of
-- classes, windows, fees, rules, flags and coverage through archive/repeats/classes.py refresh
-- the snapshot themselves.)
CREATE OR REPLACE VIEW repeat_facts_status AS
WITH changes AS (
    SELECT greatest((SELECT max(updated_at) FROM studies),
                    (SELECT max(linked_at) FROM patient_links),
                    (SELECT max(recorded_at) FROM prior_use_events)) AS changed_at
), snapshot AS (
    SELECT max(refreshed_at) AS refreshed_at, sum(studies) AS studies FROM repeat_exam_daily
)
SELECT s.refreshed_at, coalesce(s.studies, 0) AS studies, c.changed_at,
       (s.refreshed_at IS NULL AND c.changed_at IS NOT NULL)
         OR (s.refreshed_at IS NOT NULL AND c.changed_at > s.refreshed_at) AS stale
FROM snapshot s, changes c;

-- repeat_avoided: the avoided repeats as of the refresh, with the dose and cost avoided.
CREATE OR REPLACE VIEW repeat_avoided AS
SELECT * EXCLUDE (prior_ct_dlp_mgy_cm, prior_ct_ctdi_vol_mgy, prior_xr_detector_kerma_ugy),
       prior_ct_dlp_mgy_cm AS ct_dlp_mgy_cm, prior_ct_ctdi_vol_mgy AS ct_ctdi_vol_mgy,
       prior_xr_detector_kerma_ugy AS xr_detector_kerma_ugy, fee AS cost
FROM prior_use_facts
WHERE outcome = 'avoided';

-- repeat_metrics_daily (definition unchanged), from the two stored aggregates.
CREATE OR REPLACE VIEW repeat_metrics_daily AS
WITH exams AS (
    SELECT day, site, exam_class, class_name, modality, studies, repeats, avoidable_repeats,
           0 AS avoided_repeats, 0 AS prior_uses,
           0.0 AS ct_dlp_mgy_cm, 0.0 AS ct_ctdi_vol_mgy, 0.0 AS xr_detector_kerma_ugy, 0.0 AS cost
    FROM repeat_exam_daily
), uses AS (
    SELECT CAST(first_used_at AS DATE), site, exam_class, class_name, modality_family,
           0, 0, 0, CAST(outcome = 'avoided' AS INTEGER), 1,
           CASE WHEN outcome = 'avoided' THEN coalesce(prior_ct_dlp_mgy_cm, 0) ELSE 0 END,
           CASE WHEN outcome = 'avoided' THEN coalesce(prior_ct_ctdi_vol_mgy, 0) ELSE 0 END,
           CASE WHEN outcome = 'avoided' THEN coalesce(prior_xr_detector_kerma_ugy, 0) ELSE 0 END,
           CASE WHEN outcome = 'avoided' THEN coalesce(fee, 0) ELSE 0 END
    FROM prior_use_facts
), unioned AS (
    SELECT * FROM exams UNION ALL SELECT * FROM uses
)
SELECT day, site, exam_class, any_value(class_name) AS class_name, modality,
       sum(studies) AS studies, sum(repeats) AS repeats, sum(avoidable_repeats) AS avoidable_repeats,
       sum(avoided_repeats) AS avoided_repeats, sum(prior_uses) AS prior_uses,
       sum(ct_dlp_mgy_cm) AS ct_dlp_mgy_cm, sum(ct_ctdi_vol_mgy) AS ct_ctdi_vol_mgy,
       sum(xr_detector_kerma_ugy) AS xr_detector_kerma_ugy, sum(cost) AS cost_avoided
FROM unioned
GROUP BY day, site, exam_class, modality;
