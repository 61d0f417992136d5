-- Records the identity linker left for review, one row per record of each conflict.
WITH conflicts AS (
    SELECT row_number() OVER (ORDER BY kind, patient_keys) AS conflict, kind, detail, patient_keys
    FROM patient_link_conflicts
), records AS (
    SELECT c.conflict, c.kind, c.detail, k.patient_key
    FROM conflicts c, unnest(c.patient_keys) AS k(patient_key)
)
SELECT r.conflict, r.kind, r.detail, r.patient_key, p.site, p.patient_id, p.issuer_of_patient_id,
       p.patient_name, p.patient_birth_date, p.patient_sex,
       coalesce(l.person_key, r.patient_key) AS person_key, coalesce(l.method, 'unlinked') AS method
FROM records r
LEFT JOIN patients p ON p.patient_key = r.patient_key
LEFT JOIN patient_links l ON l.patient_key = r.patient_key
ORDER BY r.conflict, p.site, r.patient_key
