-- Records the identity linker left for review, one row per record of each conflict. Patients and
-- links are looked up for the listed records only.
WITH conflicts AS (
    SELECT row_number() OVER (ORDER BY kind, patient_keys) AS conflict, kind, detail, patient_keys
    FROM patient_link_conflicts
), records AS (
    SELECT c.conflict, c.kind, c.detail, k.patient_key
    FROM conflicts c, unnest(c.patient_keys) AS k(patient_key)
), who AS (
    SELECT patient_key, any_value(site) AS site, any_value(patient_id) AS patient_id,
           any_value(issuer_of_patient_id) AS issuer_of_patient_id, any_value(patient_name) AS patient_name,
           any_value(patient_birth_date) AS patient_birth_date, any_value(patient_sex) AS patient_sex
    FROM patients WHERE patient_key IN (SELECT patient_key FROM records)
    GROUP BY patient_key
), links AS (
    SELECT patient_key, person_key, method FROM patient_links
    WHERE patient_key IN (SELECT patient_key FROM records)
)
SELECT r.conflict, r.kind, r.detail, r.patient_key, w.site, w.patient_id, w.issuer_of_patient_id,
       w.patient_name, w.patient_birth_date, w.patient_sex,
       coalesce(l.person_key, r.patient_key) AS person_key, coalesce(l.method, 'unlinked') AS method
FROM records r
LEFT JOIN who w USING (patient_key)
LEFT JOIN links l USING (patient_key)
ORDER BY r.conflict, w.site, r.patient_key
