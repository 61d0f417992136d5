-- How the patient records are linked: records and persons per method, and conflicts to review.
SELECT (SELECT count(*) FROM patient_identity) AS records,
       (SELECT count(DISTINCT person_key) FROM patient_identity) AS persons,
       (SELECT count(*) FROM patient_identity WHERE method = 'shared_id') AS by_shared_id,
       (SELECT count(*) FROM patient_identity WHERE method = 'demographics') AS by_demographics,
       (SELECT count(*) FROM patient_identity WHERE method = 'manual') AS by_decision,
       (SELECT count(*) FROM patient_identity WHERE method = 'unlinked') AS not_yet_linked,
       (SELECT count(*) FROM patient_link_conflicts) AS conflicts,
       (SELECT max(linked_at) FROM patient_links) AS linked_at
