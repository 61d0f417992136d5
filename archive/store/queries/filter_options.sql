-- Choices for the browser's and the metrics' filters: the distinct (site, body part, modalities)
-- of the studies in one scan (a few hundred combinations; three DISTINCT scans took 1.6x as long
-- at 1,000,000 studies), and the sites known without studies yet. Split by
-- archive.store.queries.browse.filter_options.
SELECT site, body_part_examined, modalities FROM studies GROUP BY ALL
UNION ALL
SELECT site, NULL, NULL FROM sites
