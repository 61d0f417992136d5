-- The patient records of one person until the regional identity is linked: the same MRN at its
-- issuer (the record itself), or another record with exactly the same name, birth date and sex.
WITH me AS (
    SELECT patient_key, patient_name, patient_birth_date, patient_sex
    FROM patients WHERE patient_key = $patient_key LIMIT 1
)
SELECT DISTINCT p.patient_key
FROM patients p, me
WHERE p.patient_key = me.patient_key
   OR (me.patient_name IS NOT NULL AND me.patient_birth_date IS NOT NULL
       AND p.patient_name = me.patient_name AND p.patient_birth_date = me.patient_birth_date
       AND coalesce(p.patient_sex, '') = coalesce(me.patient_sex, ''))
