-- First and last exam dates in the store (the metrics page's default range).
SELECT min(study_date) AS first_date, max(study_date) AS last_date FROM studies
