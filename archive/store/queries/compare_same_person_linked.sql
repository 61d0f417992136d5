-- The patient records of one person by the regional patient identity (view patient_identity).
WITH me AS (
    SELECT person_key FROM patient_identity WHERE patient_key = $patient_key LIMIT 1
)
SELECT DISTINCT i.patient_key
FROM patient_identity i, me
WHERE i.person_key = me.person_key
UNION
SELECT $patient_key
