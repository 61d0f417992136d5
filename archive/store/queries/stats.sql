-- Archive totals for `limestone stats` and the home page.
SELECT
    (SELECT count(*) FROM patients)  AS patients,
    (SELECT count(*) FROM studies)   AS studies,
    (SELECT count(*) FROM series)    AS series,
    (SELECT count(*) FROM instances) AS instances,
    (SELECT coalesce(sum(bytes), 0) FROM instances) AS bytes
