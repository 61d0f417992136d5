-- Records the identity linker left for review, one row per record of each conflict.
WITH conflicts AS (
    SELECT row_number() OVER (ORDER BY kind, patient_keys) AS conflict, kind, detail, patient_keys
    FROM patient_link_conflicts
)
SELECT c.conflict, c.kind, c.detail, k.patient_key, p.site, p.patient_id, p.issuer_of_patient_id,
       p.patient_name, p.patient_birth_date, p.patient_sex, i.person_key, i.method
FROM conflicts c, unnest(c.patient_keys) AS k(patient_key)
LEFT JOIN patients p ON p.patient_key = k.patient_key
LEFT JOIN patient_identity i ON i.patient_key = k.patient_key
ORDER BY c.conflict, p.site, k.patient_key
