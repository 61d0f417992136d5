-- A patient record's demographic lookup key (migration 0016), NULL without name or birth date.
SELECT person_lookup_key(patient_name, patient_birth_date, patient_sex)
FROM patients WHERE patient_key = $patient_key LIMIT 1
