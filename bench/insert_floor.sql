-- What PostgreSQL alone spends a row on the writes a bulk import must make (issue #5), without any client:
-- a record (4 indexes, 3 foreign-key triggers), its outbox event, its queue row. Run after `python -m bench import`:
--   psql -d hrss_bench_import -f bench/insert_floor.sql
-- (everything is rolled back). Divide each Execution Time by 5,000 for the cost a row.
\timing on
BEGIN;
CREATE TEMP TABLE src AS SELECT (random()*400000)::bigint+1 AS subject_id, 'BASIC' AS category, 'ARBITRATION_LOST' AS type, NULL::text AS severity, '劳动人事争议仲裁败诉' AS title, '实验〔2025〕' || g || '号' AS decision_number, '上海市人力资源和社会保障局执法总队' AS source_unit, NULL::text AS legal_basis, NULL::date AS occurred_on, date '2025-03-01' AS decided_on, NULL::date AS publicity_until, NULL::boolean AS penalty_fulfilled, NULL::date AS corrected_on, '{}'::jsonb AS details, md5(g::text) || md5(g::text) AS content_digest FROM generate_series(1, 5000) g;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO credit_records (subject_id, category, type, severity, title, decision_number, source_unit, legal_basis, occurred_on, decided_on, publicity_until, penalty_fulfilled, corrected_on, details, content_digest, created_by) SELECT *, 'x' FROM src;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO outbox (topic, aggregate_id, payload) SELECT 'record.created', subject_id, jsonb_build_object('type', type, 'category', category, 'severity', severity, 'title', title, 'decision_number', decision_number, 'source_unit', source_unit, 'legal_basis', legal_basis, 'occurred_on', occurred_on, 'decided_on', decided_on, 'publicity_until', publicity_until, 'penalty_fulfilled', penalty_fulfilled, 'corrected_on', corrected_on, 'details', details, 'record_id', 1, 'subject_id', subject_id, 'version', 1) FROM src;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO recompute_queue (subject_id) SELECT DISTINCT subject_id FROM src ORDER BY 1 ON CONFLICT (subject_id) DO UPDATE SET queued_at = now();
ROLLBACK;
