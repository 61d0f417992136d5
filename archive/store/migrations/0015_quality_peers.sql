-- Issue 21: like-with-like image quality. qa_metrics also records what makes two images
-- comparable (ImageType, photometric interpretation, MR sequence) and how much of the image shows
-- anything (content_fraction; below 0.02 the image shows no anatomy: an empty edge slice).
-- Metrics of version 3 are measured in presentation space (MONOCHROME1 inverted).
-- Numbered after the issue so that parallel branches do not collide on a number.
ALTER TABLE qa_metrics ADD COLUMN content_fraction DOUBLE;
ALTER TABLE qa_metrics ADD COLUMN image_type VARCHAR;
ALTER TABLE qa_metrics ADD COLUMN photometric VARCHAR;
ALTER TABLE qa_metrics ADD COLUMN sequence VARCHAR;

-- Dose reference levels: national and local levels side by side. A local level (the department's
-- own) applies instead of the national one for the same modality, body part and metric.
ALTER TABLE dose_reference_levels ADD COLUMN level_kind VARCHAR DEFAULT 'national';
UPDATE dose_reference_levels SET level_kind = 'national' WHERE level_kind IS NULL;

CREATE OR REPLACE VIEW qa_instance_metrics AS
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
       coalesce(nullif(trim(se.series_description), ''), '(none)') AS series_description,
       coalesce(q.sequence, '(none)') AS sequence, coalesce(q.image_type, '(none)') AS image_type,
       q.photometric,
       se.body_part_examined, se.manufacturer, i.rows, i.columns, i.kvp, i.ctdi_vol,
       i.exposure_index, i.deviation_index,
       q.noise_sigma, q.snr, q.cnr, q.sharpness, q.saturation_fraction, q.clipping_fraction,
       q.ct_noise_hu, q.signal_mean, q.background_mean, q.content_fraction,
       coalesce(q.content_fraction, 1) >= 0.02 AS has_anatomy, q.computed_at
FROM measured q
JOIN instances i USING (sop_instance_uid)
JOIN series se ON se.series_instance_uid = i.series_instance_uid
JOIN studies st ON st.study_instance_uid = i.study_instance_uid;
