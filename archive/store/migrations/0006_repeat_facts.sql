-- Repeat metrics at archive scale: a snapshot of the per-study repeat definitions.
-- The definitions stay the views of migration 0004 (repeat_studies, repeat_exams,
-- repeat_study_facts, study_dose). repeat_facts holds their result per study, refreshed by
-- archive.repeats.facts.refresh (run by `limestone link-patients`, `limestone demo`, and every edit
-- of classes, windows, fees, flags or coverage); the views below read it, so the page, the report
-- and the notebooks all see the numbers of the last refresh. repeat_facts_status says how current.

CREATE TABLE repeat_facts (
    study_instance_uid VARCHAR NOT NULL,
    patient_key VARCHAR,
    person_key VARCHAR,
    site VARCHAR,
    study_date DATE,
    study_datetime TIMESTAMP,
    modality VARCHAR,
    modality_family VARCHAR,
    body_part VARCHAR,
    description VARCHAR,
    exam_class VARCHAR,
    class_name VARCHAR,
    window_days INTEGER,
    fee DOUBLE,
    available_at TIMESTAMP,
    is_repeat BOOLEAN,
    is_avoidable BOOLEAN,
    clinically_required BOOLEAN,
    prior_uid VARCHAR,
    prior_site VARCHAR,
    prior_datetime TIMESTAMP,
    days_after_prior BIGINT,
    available_prior_uid VARCHAR,
    available_prior_site VARCHAR,
    available_prior_datetime TIMESTAMP,
    ct_dlp_mgy_cm DOUBLE,                -- this study's dose (view study_dose)
    ct_ctdi_vol_mgy DOUBLE,
    xr_detector_kerma_ugy DOUBLE,
    refreshed_at TIMESTAMP
);

-- When the snapshot was taken, and the latest change to anything it is computed from.
-- stale: something changed after the refresh (or it was never taken while studies exist).
CREATE VIEW repeat_facts_status AS
WITH changes AS (
    SELECT greatest(
        (SELECT max(updated_at) FROM studies), (SELECT max(linked_at) FROM patient_links),
        (SELECT max(updated_at) FROM exam_classes), (SELECT max(updated_at) FROM exam_class_rules),
        (SELECT max(updated_at) FROM repeat_window_defaults), (SELECT max(flagged_at) FROM repeat_clinical_flags),
        (SELECT max(updated_at) FROM archive_coverage)) AS changed_at
), snapshot AS (
    SELECT max(refreshed_at) AS refreshed_at, count(*) AS studies FROM repeat_facts
)
SELECT s.refreshed_at, s.studies, c.changed_at,
       (s.refreshed_at IS NULL AND EXISTS (SELECT 1 FROM studies))
         OR (s.refreshed_at IS NOT NULL AND c.changed_at > s.refreshed_at) AS stale
FROM snapshot s, changes c;

-- prior_use_episodes (definition unchanged from 0004; reads the snapshot). Adds the used prior's
-- dose columns.
CREATE OR REPLACE VIEW prior_use_episodes AS
WITH uses AS (
    SELECT e.event_id, e.kind, coalesce(e.site, '(unknown)') AS use_site, e.used_at,
           s.study_instance_uid, s.person_key, s.exam_class, s.class_name, s.modality_family,
           s.window_days, s.fee, s.site AS prior_site, s.study_datetime AS prior_datetime
    FROM prior_use_events e JOIN repeat_facts s USING (study_instance_uid)
), marked AS (
    SELECT *,
           CASE WHEN date_diff('day', CAST(lag(used_at) OVER w AS DATE), CAST(used_at AS DATE))
                     <= window_days THEN 0 ELSE 1 END AS starts
    FROM uses
    WINDOW w AS (PARTITION BY person_key, exam_class ORDER BY used_at, event_id)
), numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY person_key, exam_class ORDER BY used_at, event_id
                                ROWS UNBOUNDED PRECEDING) AS episode
    FROM marked
), episodes AS (
    SELECT person_key, exam_class, episode,
           any_value(class_name) AS class_name, any_value(modality_family) AS modality_family,
           any_value(window_days) AS window_days, any_value(fee) AS fee,
           min(used_at) AS first_used_at, max(used_at) AS last_used_at,
           arg_min(use_site, used_at) AS site,
           arg_max(study_instance_uid, prior_datetime) AS prior_uid,
           arg_max(prior_site, prior_datetime) AS prior_site,
           max(prior_datetime) AS prior_datetime,
           list_sort(list_distinct(list(kind))) AS kinds,
           count(*) AS events
    FROM numbered
    GROUP BY person_key, exam_class, episode
), followed AS (
    SELECT e.person_key, e.exam_class, e.episode, min(n.study_datetime) AS next_exam_at,
           arg_min(n.study_instance_uid, n.study_datetime) AS next_exam_uid
    FROM episodes e JOIN repeat_facts n
      ON n.person_key = e.person_key AND n.exam_class = e.exam_class
     AND n.study_datetime > e.prior_datetime
     AND n.study_date >= CAST(e.first_used_at AS DATE)
     AND n.study_date <= CAST(e.last_used_at AS DATE) + e.window_days
    GROUP BY ALL
)
SELECT e.*, f.next_exam_uid, f.next_exam_at,
       CASE WHEN f.next_exam_uid IS NOT NULL THEN 'repeated'
            WHEN CAST(e.last_used_at AS DATE) + e.window_days >= current_date THEN 'pending'
            ELSE 'avoided' END AS outcome,
       d.ct_dlp_mgy_cm AS prior_ct_dlp_mgy_cm, d.ct_ctdi_vol_mgy AS prior_ct_ctdi_vol_mgy,
       d.xr_detector_kerma_ugy AS prior_xr_detector_kerma_ugy
FROM episodes e
LEFT JOIN followed f USING (person_key, exam_class, episode)
LEFT JOIN repeat_facts d ON d.study_instance_uid = e.prior_uid;

-- repeat_avoided (definition unchanged): the avoided repeats with the dose and cost avoided.
CREATE OR REPLACE VIEW repeat_avoided AS
SELECT * EXCLUDE (prior_ct_dlp_mgy_cm, prior_ct_ctdi_vol_mgy, prior_xr_detector_kerma_ugy),
       prior_ct_dlp_mgy_cm AS ct_dlp_mgy_cm, prior_ct_ctdi_vol_mgy AS ct_ctdi_vol_mgy,
       prior_xr_detector_kerma_ugy AS xr_detector_kerma_ugy, fee AS cost
FROM prior_use_episodes
WHERE outcome = 'avoided';

-- repeat_metrics_daily (definition unchanged): per day, site, class and modality family; studies
-- and repeats by the exam's day and site, prior uses and avoided repeats (with their dose and
-- cost) by the day and site of the first use.
CREATE OR REPLACE VIEW repeat_metrics_daily AS
WITH exams AS (
    SELECT study_date AS day, site, exam_class, class_name, modality_family AS modality,
           1 AS studies, CAST(is_repeat AS INTEGER) AS repeats,
           CAST(is_avoidable AS INTEGER) AS avoidable_repeats,
           0 AS avoided_repeats, 0 AS prior_uses,
           0.0 AS ct_dlp_mgy_cm, 0.0 AS ct_ctdi_vol_mgy, 0.0 AS xr_detector_kerma_ugy, 0.0 AS cost
    FROM repeat_facts
), uses AS (
    SELECT CAST(first_used_at AS DATE), site, exam_class, class_name, modality_family,
           0, 0, 0, CAST(outcome = 'avoided' AS INTEGER), 1,
           CASE WHEN outcome = 'avoided' THEN coalesce(prior_ct_dlp_mgy_cm, 0) ELSE 0 END,
           CASE WHEN outcome = 'avoided' THEN coalesce(prior_ct_ctdi_vol_mgy, 0) ELSE 0 END,
           CASE WHEN outcome = 'avoided' THEN coalesce(prior_xr_detector_kerma_ugy, 0) ELSE 0 END,
           CASE WHEN outcome = 'avoided' THEN coalesce(fee, 0) ELSE 0 END
    FROM prior_use_episodes
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
