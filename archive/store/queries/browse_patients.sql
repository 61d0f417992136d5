-- The browser's search, step 3: the identity of the page's patients.
SELECT patient_key, patient_name, patient_id, issuer_of_patient_id, patient_birth_date, patient_sex
FROM patients
WHERE list_contains($patient_keys, patient_key)
