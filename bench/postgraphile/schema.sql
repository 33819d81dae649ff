-- What PostGraphile needs to answer the race's two questions from hrss-credit's own tables. `python -m bench race`
-- applies it to the bench database only; it is no migration and never reaches a deployed database.
--
-- Everything lives in the schema `race`, the one PostGraphile exposes: views over the app's tables (a computed
-- column must sit in its table's schema), so the peer sees no other table and no personal data column.
-- "In force" is the app's (store/restrictions.py): current (superseded_at IS NULL) and since <= day <= until,
-- with day today in the bureau's time zone (store/db.py, BUREAU_TIME_ZONE), as the app takes it.

DROP SCHEMA IF EXISTS race CASCADE;
CREATE SCHEMA race;

CREATE VIEW race.subjects AS
  SELECT id, kind, name, uscc FROM public.subjects;
COMMENT ON VIEW race.subjects IS E'@primaryKey id\n@unique uscc';

CREATE TYPE race.restriction AS (
  sector text,
  measure text,
  legal_document text,
  legal_article text,
  since date,
  until date,
  disputed boolean
);

-- subject.restrictionsInForce(sector:): the restrictions in force today in one sector, oldest first.
CREATE FUNCTION race.subjects_restrictions_in_force(subject race.subjects, sector text)
  RETURNS SETOF race.restriction
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT x.sector, x.measure, x.legal_document, x.legal_article, x.since, x.until, x.disputed
  FROM public.restrictions x
  WHERE x.subject_id = subject.id
    AND x.sector = subjects_restrictions_in_force.sector
    AND x.superseded_at IS NULL
    AND x.since <= (now() AT TIME ZONE 'Asia/Shanghai')::date
    AND (x.until IS NULL OR x.until >= (now() AT TIME ZONE 'Asia/Shanghai')::date)
  ORDER BY x.since, x.id
$$;
COMMENT ON FUNCTION race.subjects_restrictions_in_force(race.subjects, text) IS E'@behavior -connection +list';

CREATE TYPE race.screening AS (
  ref text,
  found boolean,
  restricted boolean,
  restrictions race.restriction[]
);

-- screen(sector:, usccs:): one verdict per USCC, in the order sent, in one statement (as store.restrictions.screen).
CREATE FUNCTION race.screen(sector text, usccs text[])
  RETURNS SETOF race.screening
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT r.uscc,
         s.id IS NOT NULL,
         f.found IS NOT NULL,
         coalesce(f.found, '{}')
  FROM unnest(usccs) WITH ORDINALITY AS r(uscc, position)
  LEFT JOIN public.subjects s ON s.uscc = r.uscc
  LEFT JOIN LATERAL (
    SELECT array_agg(
             ROW(x.sector, x.measure, x.legal_document, x.legal_article, x.since, x.until, x.disputed)::race.restriction
             ORDER BY x.since, x.id) AS found
    FROM public.restrictions x
    WHERE x.subject_id = s.id
      AND x.sector = screen.sector
      AND x.superseded_at IS NULL
      AND x.since <= (now() AT TIME ZONE 'Asia/Shanghai')::date
      AND (x.until IS NULL OR x.until >= (now() AT TIME ZONE 'Asia/Shanghai')::date)
  ) f ON true
  ORDER BY r.position
$$;
COMMENT ON FUNCTION race.screen(text, text[]) IS E'@behavior -connection +list';
