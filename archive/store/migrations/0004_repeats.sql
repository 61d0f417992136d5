-- Repeat-exam avoidance: regional patient identity, exam classes, and the repeat metrics as views.
-- The definitions are documented here and in archive/repeats/__init__.py; the dashboard page, the
-- `limestone report repeats` command and the notebooks all read these views.
-- DuckLake has no primary keys: the functions in archive/patients/linking.py and archive/repeats/ keep
-- one row per key in every table below.

-- ---- regional patient identity ----------------------------------------------------------------
-- One row per patient record (patient_key) that the linker has placed: the person it belongs to.
-- Rebuilt as a whole by `limestone link-patients` (archive/patients/linking.py). A patient record without
-- a row here is its own person (see patient_identity).
CREATE TABLE patient_links (
    patient_key VARCHAR NOT NULL,
    person_key VARCHAR NOT NULL,         -- smallest patient_key of the person's records
    method VARCHAR,                      -- single | shared_id | demographics | manual
    confidence DOUBLE,                   -- 1.0 shared identifier or manual, 0.9 demographics
    evidence VARCHAR,                    -- short explanation, without names or identifiers
    linked_at TIMESTAMP
);

-- Pairs of records the linker did not merge on its own, or merged with a warning, for review.
CREATE TABLE patient_link_conflicts (
    kind VARCHAR,                        -- shared_id_mismatch | demographics_differ | ambiguous | same_site_duplicate
    patient_keys VARCHAR[],
    detail VARCHAR,
    found_at TIMESTAMP
);

-- Decisions staff took on a pair of records: 'same' merges them, 'different' keeps them apart.
-- Both override the automatic rules the next time the linker runs.
CREATE TABLE patient_link_decisions (
    patient_key_a VARCHAR NOT NULL,      -- the smaller key of the pair
    patient_key_b VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,           -- same | different
    decided_by VARCHAR,
    note VARCHAR,
    decided_at TIMESTAMP
);

-- Every patient record with the person it belongs to.
CREATE VIEW patient_identity AS
SELECT p.patient_key,
       coalesce(l.person_key, p.patient_key) AS person_key,
       coalesce(l.method, 'unlinked') AS method,
       coalesce(l.confidence, 1.0) AS confidence,
       p.site
FROM patients p LEFT JOIN patient_links l USING (patient_key);

-- ---- exam classes, windows, fees (editable: archive/repeats/classes.py, the dashboard page) -----
-- Default repeat window per modality family (CR and DX are the family XR).
CREATE TABLE repeat_window_defaults (
    modality VARCHAR NOT NULL,
    window_days INTEGER NOT NULL,
    updated_by VARCHAR,
    updated_at TIMESTAMP
);
INSERT INTO repeat_window_defaults VALUES
    ('CT', 30, 'migration', NULL), ('MR', 60, 'migration', NULL), ('XR', 14, 'migration', NULL),
    ('US', 30, 'migration', NULL), ('MG', 180, 'migration', NULL), ('NM', 30, 'migration', NULL),
    ('PT', 60, 'migration', NULL), ('RF', 14, 'migration', NULL), ('XA', 30, 'migration', NULL);

-- Comparable classes of exams. repeat_window_days NULL = the modality's default window.
-- fee: what one exam of the class costs the region (example tariff; edit it), NULL = unknown.
CREATE TABLE exam_classes (
    exam_class VARCHAR NOT NULL,
    name VARCHAR,
    modality VARCHAR,                    -- modality family
    body_region VARCHAR,
    repeat_window_days INTEGER,
    fee DOUBLE,
    updated_by VARCHAR,
    updated_at TIMESTAMP
);
INSERT INTO exam_classes VALUES
    ('CT_HEAD', 'CT head', 'CT', 'HEAD', NULL, 180, 'migration', NULL),
    ('CT_CHEST', 'CT chest', 'CT', 'CHEST', NULL, 220, 'migration', NULL),
    ('CT_ABD', 'CT abdomen and pelvis', 'CT', 'ABDOMEN', NULL, 260, 'migration', NULL),
    ('CT_CAP', 'CT chest, abdomen and pelvis', 'CT', 'CHESTABDPELVIS', NULL, 320, 'migration', NULL),
    ('CT_SPINE', 'CT spine', 'CT', 'SPINE', NULL, 240, 'migration', NULL),
    ('MR_BRAIN', 'MR brain', 'MR', 'HEAD', NULL, 400, 'migration', NULL),
    ('MR_KNEE', 'MR knee', 'MR', 'KNEE', NULL, 350, 'migration', NULL),
    ('MR_LSPINE', 'MR lumbar spine', 'MR', 'LSPINE', NULL, 380, 'migration', NULL),
    ('MR_CSPINE', 'MR cervical spine', 'MR', 'CSPINE', NULL, 380, 'migration', NULL),
    ('XR_CHEST', 'Chest radiograph', 'XR', 'CHEST', NULL, 45, 'migration', NULL),
    ('XR_CHEST_PORTABLE', 'Chest radiograph, portable AP', 'XR', 'CHEST', NULL, 55, 'migration', NULL),
    ('XR_HAND', 'Hand radiograph', 'XR', 'HAND', NULL, 35, 'migration', NULL),
    ('XR_KNEE', 'Knee radiograph', 'XR', 'KNEE', NULL, 35, 'migration', NULL),
    ('US_ABD', 'Ultrasound abdomen', 'US', 'ABDOMEN', NULL, 110, 'migration', NULL),
    ('US_THYROID', 'Ultrasound thyroid / neck', 'US', 'NECK', NULL, 90, 'migration', NULL),
    ('US_BREAST', 'Ultrasound breast', 'US', 'BREAST', NULL, 95, 'migration', NULL),
    ('MG_SCREEN', 'Screening mammography', 'MG', 'BREAST', NULL, 80, 'migration', NULL),
    ('MG_DIAG', 'Diagnostic mammography', 'MG', 'BREAST', NULL, 120, 'migration', NULL);

-- How studies map to classes: the matching rule with the lowest priority wins. Patterns are RE2
-- regular expressions searched, ignoring case, in BodyPartExamined and StudyDescription; NULL
-- matches anything. A study no rule matches gets the class <family>_<body part> (or <family>_OTHER).
CREATE TABLE exam_class_rules (
    priority INTEGER NOT NULL,
    modality VARCHAR NOT NULL,           -- modality family: CT, MR, XR (CR/DX), US, MG, ...
    body_part_pattern VARCHAR,
    description_pattern VARCHAR,
    exam_class VARCHAR NOT NULL,
    updated_by VARCHAR,
    updated_at TIMESTAMP
);
INSERT INTO exam_class_rules VALUES
    (10, 'CT', 'CHESTABDPELVIS|CAP', NULL, 'CT_CAP', 'migration', NULL),
    (11, 'CT', NULL, 'CHEST.*ABD.*PELV|\bCAP\b|STAGING', 'CT_CAP', 'migration', NULL),
    (20, 'CT', 'HEAD|BRAIN|SKULL', NULL, 'CT_HEAD', 'migration', NULL),
    (21, 'CT', NULL, '\bHEAD\b|BRAIN', 'CT_HEAD', 'migration', NULL),
    (30, 'CT', 'SPINE', NULL, 'CT_SPINE', 'migration', NULL),
    (31, 'CT', NULL, 'SPINE', 'CT_SPINE', 'migration', NULL),
    (40, 'CT', 'ABDOMEN|PELVIS|ABD', NULL, 'CT_ABD', 'migration', NULL),
    (41, 'CT', NULL, 'ABDOMEN|PELVIS|\bABD\b', 'CT_ABD', 'migration', NULL),
    (50, 'CT', 'CHEST|THORAX|LUNG', NULL, 'CT_CHEST', 'migration', NULL),
    (51, 'CT', NULL, 'CHEST|THORAX|LUNG', 'CT_CHEST', 'migration', NULL),
    (20, 'MR', 'HEAD|BRAIN', NULL, 'MR_BRAIN', 'migration', NULL),
    (21, 'MR', NULL, '\bHEAD\b|BRAIN', 'MR_BRAIN', 'migration', NULL),
    (30, 'MR', 'KNEE', NULL, 'MR_KNEE', 'migration', NULL),
    (31, 'MR', NULL, 'KNEE', 'MR_KNEE', 'migration', NULL),
    (40, 'MR', 'LSPINE|LUMBAR', NULL, 'MR_LSPINE', 'migration', NULL),
    (41, 'MR', NULL, 'LUMBAR|L-SPINE|\bLSPINE\b', 'MR_LSPINE', 'migration', NULL),
    (50, 'MR', 'CSPINE|CERVICAL', NULL, 'MR_CSPINE', 'migration', NULL),
    (51, 'MR', NULL, 'CERVICAL|C-SPINE|\bCSPINE\b', 'MR_CSPINE', 'migration', NULL),
    (10, 'XR', NULL, 'PORTABLE|CHEST AP|\bAP\b.*CHEST', 'XR_CHEST_PORTABLE', 'migration', NULL),
    (20, 'XR', 'CHEST|THORAX', NULL, 'XR_CHEST', 'migration', NULL),
    (21, 'XR', NULL, 'CHEST|THORAX', 'XR_CHEST', 'migration', NULL),
    (30, 'XR', 'HAND', NULL, 'XR_HAND', 'migration', NULL),
    (31, 'XR', NULL, '\bHAND\b', 'XR_HAND', 'migration', NULL),
    (40, 'XR', 'KNEE', NULL, 'XR_KNEE', 'migration', NULL),
    (41, 'XR', NULL, 'KNEE', 'XR_KNEE', 'migration', NULL),
    (10, 'US', NULL, 'THYROID', 'US_THYROID', 'migration', NULL),
    (11, 'US', 'NECK|THYROID', NULL, 'US_THYROID', 'migration', NULL),
    (20, 'US', 'BREAST', NULL, 'US_BREAST', 'migration', NULL),
    (21, 'US', NULL, 'BREAST', 'US_BREAST', 'migration', NULL),
    (30, 'US', 'ABDOMEN|ABD', NULL, 'US_ABD', 'migration', NULL),
    (31, 'US', NULL, 'ABDOMEN|\bABD\b|LIVER|GALLBLADDER', 'US_ABD', 'migration', NULL),
    (10, 'MG', NULL, 'SCREEN', 'MG_SCREEN', 'migration', NULL),
    (20, 'MG', NULL, NULL, 'MG_DIAG', 'migration', NULL);

-- Studies staff flagged as clinically required: such a repeat is never counted as avoidable.
CREATE TABLE repeat_clinical_flags (
    study_instance_uid VARCHAR NOT NULL,
    reason VARCHAR,
    flagged_by VARCHAR,
    flagged_at TIMESTAMP
);

-- Since when a site's studies are reachable through the regional archive from the moment they are
-- made (its PACS linked to the region). Without a row, a study is available from its first arrival
-- in this store (studies.first_ingested_at).
CREATE TABLE archive_coverage (
    site VARCHAR NOT NULL,
    covered_since DATE NOT NULL,
    updated_by VARCHAR,
    updated_at TIMESTAMP
);

-- A prior put to use: retrieved to the requesting site (pull, move), viewed in a comparison,
-- shared by link, exported to media. Written by archive.repeats.prior_use.record_prior_use.
CREATE TABLE prior_use_events (
    event_id VARCHAR NOT NULL,           -- unique; a caller's own id (e.g. 'audit:42') keeps re-sends idempotent
    study_instance_uid VARCHAR NOT NULL, -- the prior that was used
    kind VARCHAR NOT NULL,               -- retrieved | compared | shared | exported
    site VARCHAR,                        -- the requesting site, where the new exam would have been done
    used_at TIMESTAMP NOT NULL,
    user_id VARCHAR,
    recorded_at TIMESTAMP
);

-- ---- definitions (views) ----------------------------------------------------------------------
-- repeat_studies: one row per dated imaging study with its person, exam class, window, fee, and
-- the moment it was available in the regional archive. The class mapping matches the rules once
-- per distinct (family, body part, description), not once per study.
CREATE VIEW repeat_studies AS
WITH source AS (
    SELECT study_instance_uid, patient_key, coalesce(site, '(no site)') AS site, study_date,
           coalesce(study_datetime, CAST(study_date AS TIMESTAMP)) AS study_datetime,
           coalesce(list_filter(modalities, lambda m: m NOT IN ('SR', 'KO', 'PR', 'DOC', 'REG', 'SEG'))[1],
                    modalities[1]) AS modality,
           upper(trim(coalesce(body_part_examined, ''))) AS body_part,
           upper(trim(coalesce(study_description, ''))) AS description,
           first_ingested_at
    FROM studies
    WHERE study_date IS NOT NULL
), families AS (
    SELECT *, CASE WHEN modality IN ('CR', 'DX') THEN 'XR' ELSE modality END AS modality_family
    FROM source
    WHERE modality IS NOT NULL AND modality NOT IN ('SR', 'KO', 'PR', 'DOC', 'REG', 'SEG')
), combos AS (
    SELECT DISTINCT modality_family, body_part, description FROM families
), matched AS (
    SELECT c.modality_family, c.body_part, c.description, r.exam_class
    FROM combos c JOIN exam_class_rules r ON r.modality = c.modality_family
        AND (r.body_part_pattern IS NULL OR regexp_matches(c.body_part, r.body_part_pattern, 'i'))
        AND (r.description_pattern IS NULL OR regexp_matches(c.description, r.description_pattern, 'i'))
    QUALIFY row_number() OVER (PARTITION BY c.modality_family, c.body_part, c.description
                               ORDER BY r.priority, r.exam_class) = 1
), classed AS (
    SELECT f.*,
           coalesce(m.exam_class, f.modality_family || '_' ||
                    coalesce(nullif(regexp_replace(f.body_part, '[^A-Z0-9]+', '', 'g'), ''), 'OTHER'))
               AS exam_class
    FROM families f LEFT JOIN matched m USING (modality_family, body_part, description)
)
SELECT s.study_instance_uid, s.patient_key,
       coalesce(l.person_key, s.patient_key) AS person_key,
       s.site, s.study_date, s.study_datetime, s.modality, s.modality_family, s.body_part,
       s.description, s.exam_class, coalesce(c.name, s.exam_class) AS class_name,
       coalesce(c.repeat_window_days, w.window_days, 30) AS window_days,
       c.fee,
       -- available in the regional archive: from the exam itself on a covered site, else on arrival
       least(s.first_ingested_at,
             CASE WHEN cov.covered_since <= s.study_date THEN s.study_datetime END) AS available_at
FROM classed s
LEFT JOIN patient_links l ON l.patient_key = s.patient_key
LEFT JOIN exam_classes c ON c.exam_class = s.exam_class
LEFT JOIN repeat_window_defaults w ON w.modality = s.modality_family
LEFT JOIN archive_coverage cov ON cov.site = s.site;

-- repeat_exams: one row per REPEAT, a study of the same linked person and exam class done within
-- the class's window (calendar days, boundary included, same day included) after an earlier one.
-- AVOIDABLE when an earlier study within the window was done at another site, was in the regional
-- archive before the repeat was made, and the repeat is not flagged clinically required.
-- prior_*: the most recent earlier study within the window; available_prior_*: the most recent one
-- that would have made the repeat avoidable (where it was and when).
CREATE VIEW repeat_exams AS
WITH base AS MATERIALIZED (
    SELECT study_instance_uid, person_key, exam_class, site, study_date, study_datetime,
           window_days, available_at
    FROM repeat_studies
), pairs AS (
    SELECT s.study_instance_uid, p.study_instance_uid AS prior_uid, p.site AS prior_site,
           p.study_datetime AS prior_datetime,
           date_diff('day', p.study_date, s.study_date) AS days_after,
           (p.site <> s.site AND p.available_at IS NOT NULL AND p.available_at <= s.study_datetime)
               AS elsewhere_available
    FROM base s JOIN base p
      ON p.person_key = s.person_key AND p.exam_class = s.exam_class
     AND (p.study_datetime < s.study_datetime
          OR (p.study_datetime = s.study_datetime AND p.study_instance_uid < s.study_instance_uid))
     AND date_diff('day', p.study_date, s.study_date) <= s.window_days
), per_repeat AS (
    SELECT study_instance_uid,
           arg_max(prior_uid, prior_datetime) AS prior_uid,
           arg_max(prior_site, prior_datetime) AS prior_site,
           max(prior_datetime) AS prior_datetime,
           min(days_after) AS days_after_prior,
           bool_or(elsewhere_available) AS prior_available_elsewhere,
           arg_max(prior_uid, prior_datetime) FILTER (WHERE elsewhere_available) AS available_prior_uid,
           arg_max(prior_site, prior_datetime) FILTER (WHERE elsewhere_available) AS available_prior_site,
           max(prior_datetime) FILTER (WHERE elsewhere_available) AS available_prior_datetime
    FROM pairs
    GROUP BY study_instance_uid
)
SELECT r.*,
       f.study_instance_uid IS NOT NULL AS clinically_required,
       r.prior_available_elsewhere AND f.study_instance_uid IS NULL AS avoidable
FROM per_repeat r
LEFT JOIN (SELECT DISTINCT study_instance_uid FROM repeat_clinical_flags) f USING (study_instance_uid);

-- repeat_study_facts: every study of repeat_studies with its repeat flags (false when not a repeat).
CREATE VIEW repeat_study_facts AS
SELECT s.*,
       r.study_instance_uid IS NOT NULL AS is_repeat,
       coalesce(r.avoidable, false) AS is_avoidable,
       coalesce(r.clinically_required, false) AS clinically_required,
       r.prior_uid, r.prior_site, r.prior_datetime, r.days_after_prior,
       r.available_prior_uid, r.available_prior_site, r.available_prior_datetime
FROM repeat_studies s LEFT JOIN repeat_exams r USING (study_instance_uid);

-- study_dose: what one study exposed the patient to, where the store knows it.
-- CT: DLP (mGy*cm) from dose reports, else estimated per series as its highest CTDIvol times the
-- scanned length (slice positions plus one slice thickness); CTDIvol (mGy) the highest in the study.
-- CR/DX: detector air kerma (uGy) from the exposure index (IEC 62494-1: EI = 100 x K), summed over
-- images; it measures the exposure the images needed, not the patient's effective dose.
CREATE VIEW study_dose AS
WITH per_series AS (
    SELECT study_instance_uid, series_instance_uid,
           sum(dlp) AS dlp_reported,
           max(ctdi_vol) AS ctdi_vol,
           max(coalesce(slice_location, image_position_patient[3]))
             - min(coalesce(slice_location, image_position_patient[3]))
             + coalesce(max(slice_thickness), 0) AS length_mm,
           sum(exposure_index) / 100.0 AS detector_kerma_ugy
    FROM instances
    GROUP BY study_instance_uid, series_instance_uid
)
SELECT study_instance_uid,
       coalesce(sum(dlp_reported),
                sum(ctdi_vol * length_mm / 10.0) FILTER (WHERE dlp_reported IS NULL)) AS ct_dlp_mgy_cm,
       max(ctdi_vol) AS ct_ctdi_vol_mgy,
       sum(detector_kerma_ugy) AS xr_detector_kerma_ugy
FROM per_series
GROUP BY study_instance_uid;

-- prior_use_episodes: uses of a person's priors of one exam class, grouped into episodes (a use
-- more than the class's window after the previous one starts a new episode), so that a prior
-- pulled, then viewed, then shared for the same order counts once. site: where it was first used.
-- OUTCOME: 'repeated' when the person had a newer exam of the class from the day of the first use
-- to the window's end after the last use; 'pending' while that window is still open; else
-- 'avoided'. An AVOIDED REPEAT is an episode whose outcome is 'avoided'.
CREATE VIEW prior_use_episodes AS
WITH uses AS (
    SELECT e.event_id, e.kind, coalesce(e.site, '(unknown)') AS use_site, e.used_at,
           s.study_instance_uid, s.person_key, s.exam_class, s.class_name, s.modality_family,
           s.window_days, s.fee, s.site AS prior_site, s.study_datetime AS prior_datetime
    FROM prior_use_events e JOIN repeat_studies s USING (study_instance_uid)
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
    FROM episodes e JOIN repeat_studies n
      ON n.person_key = e.person_key AND n.exam_class = e.exam_class
     AND n.study_datetime > e.prior_datetime
     AND n.study_date >= CAST(e.first_used_at AS DATE)
     AND n.study_date <= CAST(e.last_used_at AS DATE) + e.window_days
    GROUP BY ALL
)
SELECT e.*, f.next_exam_uid, f.next_exam_at,
       CASE WHEN f.next_exam_uid IS NOT NULL THEN 'repeated'
            WHEN CAST(e.last_used_at AS DATE) + e.window_days >= current_date THEN 'pending'
            ELSE 'avoided' END AS outcome
FROM episodes e LEFT JOIN followed f USING (person_key, exam_class, episode);

-- repeat_avoided: the avoided repeats, with the dose and cost the avoided exam would have cost
-- (estimated as those of the prior that was used instead).
CREATE VIEW repeat_avoided AS
WITH avoided AS (
    SELECT * FROM prior_use_episodes WHERE outcome = 'avoided'
), dose AS (
    SELECT * FROM study_dose WHERE study_instance_uid IN (SELECT prior_uid FROM avoided)
)
SELECT a.*, d.ct_dlp_mgy_cm, d.ct_ctdi_vol_mgy, d.xr_detector_kerma_ugy, a.fee AS cost
FROM avoided a LEFT JOIN dose d ON d.study_instance_uid = a.prior_uid;

-- repeat_metrics_daily: the page's and the report's numbers per day, site, class and modality
-- family (weeks, months and totals are sums of days). Studies and repeats count by the exam's month and site; avoided repeats, dose and cost
-- avoided by the month and site of the prior's first use.
CREATE VIEW repeat_metrics_daily AS
WITH exams AS (
    SELECT study_date AS day, site, exam_class, class_name, modality_family AS modality,
           1 AS studies, CAST(is_repeat AS INTEGER) AS repeats,
           CAST(is_avoidable AS INTEGER) AS avoidable_repeats,
           0 AS avoided_repeats, 0 AS prior_uses,
           0.0 AS ct_dlp_mgy_cm, 0.0 AS ct_ctdi_vol_mgy, 0.0 AS xr_detector_kerma_ugy, 0.0 AS cost
    FROM repeat_study_facts
), uses AS (
    SELECT CAST(first_used_at AS DATE), site, exam_class, class_name, modality_family,
           0, 0, 0, CAST(outcome = 'avoided' AS INTEGER), 1, 0.0, 0.0, 0.0, 0.0
    FROM prior_use_episodes
), avoided AS (
    SELECT CAST(first_used_at AS DATE), site, exam_class, class_name, modality_family,
           0, 0, 0, 0, 0, coalesce(ct_dlp_mgy_cm, 0), coalesce(ct_ctdi_vol_mgy, 0),
           coalesce(xr_detector_kerma_ugy, 0), coalesce(cost, 0)
    FROM repeat_avoided
), unioned AS (
    SELECT * FROM exams UNION ALL SELECT * FROM uses UNION ALL SELECT * FROM avoided
)
SELECT day, site, exam_class,
       any_value(class_name) AS class_name, modality,
       sum(studies) AS studies, sum(repeats) AS repeats, sum(avoidable_repeats) AS avoidable_repeats,
       sum(avoided_repeats) AS avoided_repeats, sum(prior_uses) AS prior_uses,
       sum(ct_dlp_mgy_cm) AS ct_dlp_mgy_cm, sum(ct_ctdi_vol_mgy) AS ct_ctdi_vol_mgy,
       sum(xr_detector_kerma_ugy) AS xr_detector_kerma_ugy, sum(cost) AS cost_avoided
FROM unioned
GROUP BY ALL;
