-- Rate limits every replica shares (issue 14): one theoretical arrival time
-- (TAT) per key, the generic cell rate algorithm in one statement. Used for
-- sign-in and survey answers per client address and for budget calls per
-- caller and per org (README "Rate limits"); the other limits are kept in
-- each server's memory.
--
-- The table holds no tenant data (keys are a class and a client address,
-- a user, an API key or an org id) and is reachable only through the two
-- functions below, granted to ochre_service. It is UNLOGGED: after a crash
-- every key starts afresh, which only forgets recent calls.

CREATE UNLOGGED TABLE rate_buckets (
  key text PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 200),
  tat timestamptz NOT NULL
);
ALTER TABLE rate_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_buckets FORCE ROW LEVEL SECURITY;
REVOKE ALL ON rate_buckets FROM PUBLIC;
CREATE POLICY rate_buckets_definer ON rate_buckets FOR ALL TO ochre_owner USING (true) WITH CHECK (true);

-- Takes one cell for `p_key` under a limit of one call per `p_interval_us`
-- microseconds with a burst of `p_burst`: 0 when admitted, otherwise the
-- microseconds until a call would be. The database's clock decides, so
-- replicas agree. Admission is the upsert's WHERE: concurrent callers on one
-- key serialise on its row and never admit more than the limit.
CREATE FUNCTION rate_limit_take(p_key text, p_interval_us bigint, p_burst int) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    t timestamptz := clock_timestamp();
    iv interval;
    tolerance interval;
    admitted boolean;
    current_tat timestamptz;
  BEGIN
    IF p_key IS NULL OR char_length(p_key) NOT BETWEEN 1 AND 200
       OR p_interval_us IS NULL OR p_interval_us NOT BETWEEN 1 AND 86400000000 * 366
       OR p_burst IS NULL OR p_burst NOT BETWEEN 1 AND 1000000 THEN
      RAISE EXCEPTION 'invalid rate limit' USING ERRCODE = '22023';
    END IF;
    iv := make_interval(secs => p_interval_us / 1e6);
    tolerance := iv * p_burst;
    INSERT INTO public.rate_buckets AS b (key, tat) VALUES (p_key, t + iv)
      ON CONFLICT (key) DO UPDATE SET tat = greatest(b.tat, t) + iv
      WHERE greatest(b.tat, t) + iv <= t + tolerance
      RETURNING true INTO admitted;
    IF admitted THEN
      RETURN 0;
    END IF;
    SELECT b.tat INTO current_tat FROM public.rate_buckets b WHERE b.key = p_key;
    RETURN greatest(1, ceil(extract(epoch FROM (greatest(current_tat, t) + iv) - (t + tolerance)) * 1e6))::bigint;
  END $$;

-- Forgets the keys whose TAT has passed (a new call would find them as new).
-- Run by the purge job. The number of keys forgotten.
CREATE FUNCTION sweep_rate_buckets() RETURNS int
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    WITH gone AS (DELETE FROM public.rate_buckets WHERE tat < clock_timestamp() RETURNING 1)
    SELECT count(*)::int FROM gone
  $$;

REVOKE ALL ON FUNCTION rate_limit_take(text, bigint, int), sweep_rate_buckets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rate_limit_take(text, bigint, int), sweep_rate_buckets() TO ochre_service;
