-- The archive browser's search: every filter is optional (NULL = no filter).
-- ORDER BY is filled in by archive.store.queries.browse from a fixed list of columns; values are bound.
WITH hits AS (
    SELECT s.study_instance_uid, s.study_date, s.study_time, s.accession_number,
           s.study_description, s.modalities, s.body_part_examined, s.site,
           s.number_of_series, s.number_of_instances, s.bytes,
           p.patient_name, p.patient_id, p.issuer_of_patient_id, p.patient_birth_date, p.patient_sex,
           s.patient_key
    FROM studies s
    LEFT JOIN patients p USING (patient_key)
    WHERE ($patient_name IS NULL OR replace(p.patient_name, '^', ' ') ILIKE $patient_name ESCAPE '\')
      AND ($patient_id IS NULL OR p.patient_id = $patient_id)
      AND ($accession IS NULL OR s.accession_number = $accession)
      AND ($date_from IS NULL OR s.study_date >= $date_from)
      AND ($date_to IS NULL OR s.study_date <= $date_to)
      AND ($modality IS NULL OR list_contains(s.modalities, $modality))
      AND ($body_part IS NULL OR s.body_part_examined = $body_part)
      AND ($site IS NULL OR s.site = $site)
      AND ($description IS NULL OR s.study_description ILIKE $description ESCAPE '\')
)
SELECT *, count(*) OVER () AS total
FROM hits
ORDER BY {order_by}
LIMIT $limit OFFSET $offset
