-- The tables of migration 0011, kept in key order, also in small row groups: a study page's point
-- lookups (a study by UID, its series and instances, its patient by key) then read one row group
-- of 16,384 rows per file instead of DuckDB's default 122,880. It matters for the files that
-- compaction (archive.store.maintenance) and bulk loads write; an import's batch commits are
-- smaller than one row group anyway. At 1,000,000 studies / 10,000,000 instances
-- (benchmarks/dashboard_queries.py): study + patient 49 -> 29 ms p95, a study's series 32 -> 22,
-- a series's instances 27 -> 18; whole-table sums cost more (stats 44 -> 72 ms, under 200).
CALL set_option('parquet_row_group_size', 16384, table_name => 'studies');
CALL set_option('parquet_row_group_size', 16384, table_name => 'series');
CALL set_option('parquet_row_group_size', 16384, table_name => 'instances');
CALL set_option('parquet_row_group_size', 16384, table_name => 'patients');
