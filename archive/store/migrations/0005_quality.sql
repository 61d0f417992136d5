-- Image quality metrics (limestone qa, archive/quality/) and dose reference levels.
-- The notebooks and the dashboard read the views below, so they see the same numbers.

-- One row per instance and metrics version: what `limestone qa` measured on its decoded pixels.
-- status: ok | no_image (reports, presentation states...) | skipped (too small to measure) |
-- failed (cannot be decoded); rows with
-- any status are kept so that an incremental run never tries the same instance again.
CREATE TABLE qa_metrics (
    sop_instance_uid VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    metrics_version INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    reason VARCHAR,                      -- why not ok (no identifiers)
    frame_index INTEGER,                 -- the frame measured (the middle one)
    noise_sigma DOUBLE,                  -- wavelet estimate of Gaussian noise, modality units
    snr DOUBLE,                          -- mean / sd in the most uniform object region
    cnr DOUBLE,                          -- object vs background contrast / pooled sd
    sharpness DOUBLE,                    -- Laplacian variance of the image scaled to its 1-99 % range
    saturation_fraction DOUBLE,          -- share of pixels at the top of the representable range
    clipping_fraction DOUBLE,            -- share of pixels at the bottom of the representable range
    ct_noise_hu DOUBLE,                  -- CT: sd in uniform soft-tissue regions (HU)
    signal_mean DOUBLE,
    background_mean DOUBLE,
    qa_run_id VARCHAR,
    computed_at TIMESTAMP
);

CREATE TABLE qa_runs (
    run_id VARCHAR NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    since DATE,                          -- --since (study date), NULL = all
    modality VARCHAR,                    -- --modality, NULL = all
    measured BIGINT,                     -- instances measured (status ok)
    no_image BIGINT,
    failed BIGINT,
    seconds DOUBLE,
    status VARCHAR                       -- running | ok | failed | interrupted
);

-- Reference levels for dose and exposure, editable by the department (example values in the
-- range of published European/UK diagnostic reference levels; replace them with your own).
-- metric: ctdi_vol (mGy), dlp (mGy*cm, per study) for CT; deviation_index for CR/DX, where
-- lower/upper bound the acceptable range (IEC 62494-1 suggests -1..+1, act beyond +-3).
CREATE TABLE dose_reference_levels (
    modality VARCHAR NOT NULL,           -- CT | CR | DX
    body_part VARCHAR NOT NULL,          -- BodyPartExamined as stored, '*' = any
    metric VARCHAR NOT NULL,
    reference_level DOUBLE,              -- the DRL: a median above it needs review
    lower_limit DOUBLE,
    upper_limit DOUBLE,
    unit VARCHAR,
    source VARCHAR,
    updated_at TIMESTAMP
);
INSERT INTO dose_reference_levels VALUES
    ('CT', 'HEAD', 'ctdi_vol', 60, NULL, NULL, 'mGy', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'HEAD', 'dlp', 970, NULL, NULL, 'mGy*cm', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'CHEST', 'ctdi_vol', 10, NULL, NULL, 'mGy', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'CHEST', 'dlp', 400, NULL, NULL, 'mGy*cm', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'ABDOMEN', 'ctdi_vol', 15, NULL, NULL, 'mGy', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'ABDOMEN', 'dlp', 700, NULL, NULL, 'mGy*cm', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'CHESTABDPELVIS', 'ctdi_vol', 15, NULL, NULL, 'mGy', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'CHESTABDPELVIS', 'dlp', 1000, NULL, NULL, 'mGy*cm', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'SPINE', 'ctdi_vol', 25, NULL, NULL, 'mGy', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', 'SPINE', 'dlp', 650, NULL, NULL, 'mGy*cm', 'example, cf. EU RP180 / UK NDRL', NULL),
    ('CT', '*', 'ctdi_vol', 20, NULL, NULL, 'mGy', 'example, any other CT', NULL),
    ('CT', '*', 'dlp', 800, NULL, NULL, 'mGy*cm', 'example, any other CT', NULL),
    ('CR', '*', 'deviation_index', NULL, -1, 1, 'DI', 'IEC 62494-1 target range', NULL),
    ('DX', '*', 'deviation_index', NULL, -1, 1, 'DI', 'IEC 62494-1 target range', NULL);

-- Each measured instance with where it was made: site, modality, station, protocol.
-- protocol is the series' ProtocolName, else its description; station the StationName.
CREATE VIEW qa_instance_metrics AS
WITH measured AS (
    SELECT * FROM qa_metrics
    WHERE status = 'ok'
      AND metrics_version = (SELECT max(metrics_version) FROM qa_metrics)
)
SELECT q.sop_instance_uid, i.series_instance_uid, i.study_instance_uid, i.instance_number, q.content_hash,
       st.study_date, coalesce(st.site, '(no site)') AS site,
       coalesce(se.modality, 'OT') AS modality,
       coalesce(nullif(trim(se.station_name), ''), '(unknown)') AS station,
       coalesce(nullif(trim(se.protocol_name), ''), nullif(trim(se.series_description), ''), '(unknown)') AS protocol,
       se.body_part_examined, se.manufacturer, i.rows, i.columns, i.kvp, i.ctdi_vol,
       i.exposure_index, i.deviation_index,
       q.noise_sigma, q.snr, q.cnr, q.sharpness, q.saturation_fraction, q.clipping_fraction,
       q.ct_noise_hu, q.signal_mean, q.background_mean, q.computed_at
FROM measured q
JOIN instances i USING (sop_instance_uid)
JOIN series se ON se.series_instance_uid = i.series_instance_uid
JOIN studies st ON st.study_instance_uid = i.study_instance_uid;

-- One row per measured series: the median of each metric over its instances, and its middle
-- instance (for a thumbnail). Slices of one volume differ (the top of a head is not its middle),
-- so peers are compared series against series.
CREATE VIEW qa_series_metrics AS
SELECT series_instance_uid, any_value(study_instance_uid) AS study_instance_uid,
       any_value(study_date) AS study_date, any_value(site) AS site, modality, station, protocol,
       count(*) AS instances,
       list(sop_instance_uid ORDER BY instance_number, sop_instance_uid)[(count(*) + 1) // 2] AS sop_instance_uid,
       median(noise_sigma) AS noise_sigma, median(snr) AS snr, median(cnr) AS cnr,
       median(sharpness) AS sharpness, median(ct_noise_hu) AS ct_noise_hu,
       max(saturation_fraction) AS saturation_fraction, max(clipping_fraction) AS clipping_fraction,
       median(exposure_index) AS exposure_index, median(deviation_index) AS deviation_index
FROM qa_instance_metrics
GROUP BY series_instance_uid, modality, station, protocol;

-- Outliers, flagged per modality, station and protocol:
-- * level 'series': a series whose median metric is far from the other series of the same
--   modality, station and protocol (robust z-score (x - median) / (1.4826 MAD) beyond +-3.5, in
--   groups of at least 3 series; the MAD has a floor of 1 % of the median so identical peers do
--   not make every small difference infinite);
-- * level 'instance', absolute rules: more than 2 % of pixels saturated (top of the range) in
--   CR, DX, MG, CT or MR; more than 2 % clipped at the bottom in CR, DX or MG (there, zero means
--   no signal reached the detector; in CT, MR and US it is just air or background); a deviation
--   index beyond +-3 (IEC 62494-1: act).
CREATE VIEW qa_outliers AS
WITH long AS (
    SELECT series_instance_uid, study_instance_uid, sop_instance_uid, study_date, site, modality,
           station, protocol, metric, value
    FROM qa_series_metrics
    UNPIVOT (value FOR metric IN (noise_sigma, snr, cnr, sharpness, ct_noise_hu))
), centred AS (
    SELECT *, median(value) OVER g AS group_median, count(*) OVER g AS group_size
    FROM long
    WINDOW g AS (PARTITION BY modality, station, protocol, metric)
), spread AS (
    SELECT *, median(abs(value - group_median)) OVER g AS group_mad
    FROM centred
    WINDOW g AS (PARTITION BY modality, station, protocol, metric)
), scored AS (
    SELECT *, (value - group_median)
              / (1.4826 * greatest(group_mad, 0.01 * abs(group_median), 1e-12)) AS robust_z
    FROM spread
), relative AS (
    SELECT 'series' AS level, series_instance_uid, study_instance_uid, sop_instance_uid, study_date,
           site, modality, station, protocol, metric, value, group_median, group_size, robust_z,
           'far from the station/protocol peers' AS reason
    FROM scored
    WHERE group_size >= 3 AND abs(robust_z) > 3.5
), absolute AS (
    SELECT 'instance' AS level, series_instance_uid, study_instance_uid, sop_instance_uid, study_date,
           site, modality, station, protocol, metric, value,
           NULL::DOUBLE AS group_median, NULL::BIGINT AS group_size, NULL::DOUBLE AS robust_z,
           CASE metric WHEN 'deviation_index' THEN 'deviation index beyond +-3'
                       WHEN 'saturation_fraction' THEN 'more than 2 % of pixels saturated'
                       ELSE 'more than 2 % of pixels clipped at zero signal' END AS reason
    FROM qa_instance_metrics
    UNPIVOT (value FOR metric IN (saturation_fraction, clipping_fraction, deviation_index))
    WHERE (metric = 'deviation_index' AND abs(value) > 3)
       OR (metric = 'saturation_fraction' AND value > 0.02 AND modality IN ('CR', 'DX', 'MG', 'CT', 'MR'))
       OR (metric = 'clipping_fraction' AND value > 0.02 AND modality IN ('CR', 'DX', 'MG'))
)
SELECT * FROM relative
UNION ALL
SELECT * FROM absolute;

-- Per modality, station and protocol: how many measured, medians, and how many flagged.
CREATE VIEW qa_group_summary AS
SELECT m.modality, m.station, m.protocol, count(*) AS instances,
       median(m.noise_sigma) AS noise_sigma, median(m.snr) AS snr, median(m.cnr) AS cnr,
       median(m.sharpness) AS sharpness, median(m.ct_noise_hu) AS ct_noise_hu,
       median(m.exposure_index) AS exposure_index, median(m.deviation_index) AS deviation_index,
       count(DISTINCT m.series_instance_uid) AS series,
       count(DISTINCT o.series_instance_uid) AS flagged_series
FROM qa_instance_metrics m
LEFT JOIN (SELECT DISTINCT series_instance_uid FROM qa_outliers) o USING (series_instance_uid)
GROUP BY m.modality, m.station, m.protocol;
