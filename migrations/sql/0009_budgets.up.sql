-- Consumption budgets. Owners and admins set a limit per org and kind (AI
-- cost in micro-units, file bytes, embedding tokens, emails sent) for a
-- calendar period (UTC day or month); the workers that spend (partner
-- backends with an agent-role API key) reserve an estimate before a
-- provider call, then settle the actual amount or release the hold.
--
-- Every write goes through the definer functions below, which take the
-- budget row's lock first: one reservation, settlement, release or sweep
-- of an org and kind at a time, so `spent + reserved` never exceeds the
-- limit whatever the concurrency. The app role reads (owners and admins
-- only) and writes nothing directly.

-- One row per org and kind, made by the first SetBudget or reservation.
-- The counters belong to the window starting at period_start; a call that
-- finds a newer window current rolls them over first (spent and overrun
-- start again at 0; reserved holds stay), so periods turn without a job.
CREATE TABLE budgets (
  org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  kind         text        NOT NULL
                           CHECK (kind IN ('ai_cost', 'file_bytes', 'embedding_tokens', 'emails_sent')),
  -- NULL: no limit (never set, or cleared): reservations are admitted and counted.
  limit_amount bigint      CHECK (limit_amount >= 0),
  period       text        NOT NULL DEFAULT 'month' CHECK (period IN ('day', 'month')),
  period_start timestamptz NOT NULL,
  -- Charged by settlements in the window.
  spent        bigint      NOT NULL DEFAULT 0 CHECK (spent >= 0),
  -- Held by live reservations.
  reserved     bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  -- Reported by settlements beyond what the limit let them charge.
  overrun      bigint      NOT NULL DEFAULT 0 CHECK (overrun >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, kind)
);
ALTER TABLE budgets ENABLE ROW LEVEL SECURITY;
ALTER TABLE budgets FORCE ROW LEVEL SECURITY;
CREATE POLICY budgets_read ON budgets FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
-- The definer functions name the org in every statement (the pinned
-- caller's, or each org with expired holds for the sweeper).
CREATE POLICY budgets_definer ON budgets FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
CREATE POLICY budgets_purge ON budgets FOR ALL TO ochre_owner
  USING (EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id AND o.purge_started_at IS NOT NULL))
  WITH CHECK (false);
GRANT SELECT ON budgets TO ochre_app;

-- One row per admitted reservation; a refused one leaves none. The
-- idempotency key is the caller's request id: the same key in the same org
-- always answers the same reservation.
CREATE TABLE budget_reservations (
  org_id                uuid        NOT NULL,
  id                    uuid        NOT NULL,
  kind                  text        NOT NULL,
  idempotency_key       text        NOT NULL
                                    CHECK (char_length(idempotency_key) BETWEEN 1 AND 128
                                           AND idempotency_key !~ '[\x01-\x20\x7f]'),
  -- The customer the call is for, if any (an erased customer's goes).
  customer_id           uuid,
  amount                bigint      NOT NULL CHECK (amount > 0),
  state                 text        NOT NULL DEFAULT 'active'
                                    CHECK (state IN ('active', 'settled', 'released', 'expired')),
  -- What the worker reported, and what the budget was charged of it.
  actual_amount         bigint      CHECK (actual_amount >= 0),
  charged_amount        bigint      CHECK (charged_amount >= 0 AND charged_amount <= actual_amount),
  created_by_user_id    uuid,
  created_by_api_key_id uuid,
  created_at            timestamptz NOT NULL DEFAULT now(),
  expires_at            timestamptz NOT NULL,
  closed_at             timestamptz,
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, idempotency_key),
  FOREIGN KEY (org_id, kind) REFERENCES budgets (org_id, kind) ON DELETE CASCADE,
  FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE SET NULL (customer_id),
  CHECK (num_nonnulls(created_by_user_id, created_by_api_key_id) = 1),
  CHECK ((state = 'settled') = (actual_amount IS NOT NULL AND charged_amount IS NOT NULL)),
  CHECK ((state = 'active') = (closed_at IS NULL)),
  CHECK (expires_at > created_at)
);
-- The live holds of an org and kind, by expiry (admission and the sweeper).
CREATE INDEX budget_reservations_active_idx ON budget_reservations (org_id, kind, expires_at)
  WHERE state = 'active';
CREATE INDEX budget_reservations_customer_idx ON budget_reservations (org_id, customer_id)
  WHERE customer_id IS NOT NULL;
ALTER TABLE budget_reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE budget_reservations FORCE ROW LEVEL SECURITY;
CREATE POLICY budget_reservations_read ON budget_reservations FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY budget_reservations_definer ON budget_reservations FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
CREATE POLICY budget_reservations_purge ON budget_reservations FOR ALL TO ochre_owner
  USING (EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id AND o.purge_started_at IS NOT NULL))
  WITH CHECK (false);
GRANT SELECT ON budget_reservations TO ochre_app;

-- The start of the UTC calendar window of `p_period` holding `p_at`.
CREATE FUNCTION budget_window(p_period text, p_at timestamptz) RETURNS timestamptz
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT date_trunc(p_period, p_at, 'UTC') $$;

-- Brings the budget row of (p_org, p_kind) up to date: holds past their
-- expiry are returned (their reservations turn 'expired'), and the
-- counters of a past window roll over. The caller holds the row's lock.
-- Not granted: the definer functions call it. Returns the holds expired.
CREATE FUNCTION budget_refresh(p_org uuid, p_kind text) RETURNS int
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    n int;
    freed bigint;
  BEGIN
    WITH gone AS (
      UPDATE public.budget_reservations r SET state = 'expired', closed_at = now()
       WHERE r.org_id = p_org AND r.kind = p_kind AND r.state = 'active' AND r.expires_at <= now()
      RETURNING r.amount)
    SELECT count(*), coalesce(sum(g.amount), 0) INTO n, freed FROM gone g;
    UPDATE public.budgets b
       SET reserved = b.reserved - freed,
           spent = CASE WHEN b.period_start < public.budget_window(b.period, now()) THEN 0 ELSE b.spent END,
           overrun = CASE WHEN b.period_start < public.budget_window(b.period, now()) THEN 0 ELSE b.overrun END,
           period_start = greatest(b.period_start, public.budget_window(b.period, now()))
     WHERE b.org_id = p_org AND b.kind = p_kind
       AND (freed > 0 OR b.period_start < public.budget_window(b.period, now()));
    RETURN n;
  END $$;

-- Locks the budget row of (p_org, p_kind), making it (without a limit) on
-- first use, and brings it up to date. The lock orders every admission,
-- settlement, release, change and sweep of an org and kind. Not granted.
CREATE FUNCTION budget_lock(p_org uuid, p_kind text) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    PERFORM 1 FROM public.budgets b WHERE b.org_id = p_org AND b.kind = p_kind FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO public.budgets (org_id, kind, period_start)
      VALUES (p_org, p_kind, public.budget_window('month', now()))
      ON CONFLICT (org_id, kind) DO NOTHING;
      PERFORM 1 FROM public.budgets b WHERE b.org_id = p_org AND b.kind = p_kind FOR UPDATE;
    END IF;
    PERFORM public.budget_refresh(p_org, p_kind);
  END $$;

-- The checks every budget call makes of its arguments.
CREATE FUNCTION budget_check_kind(p_kind text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('ai_cost', 'file_bytes', 'embedding_tokens', 'emails_sent') THEN
      RAISE EXCEPTION 'kind must be one of ai_cost, file_bytes, embedding_tokens, emails_sent'
        USING ERRCODE = '22023';
    END IF;
  END $$;

-- Sets the limit and period of one kind in the verified caller's org
-- (owners and admins); appends `budget.set`. A new period counts what the
-- current window already spent and holds in the new period's current
-- window. A limit below what is already spent and held revokes nothing:
-- nothing more is admitted until the window turns.
CREATE FUNCTION set_budget(p_kind text, p_limit bigint, p_period text,
                           p_client_ip text, p_request_id text)
  RETURNS SETOF budgets
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    old_b budgets;
    b budgets;
  BEGIN
    IF org IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins set budgets' USING ERRCODE = '42501';
    END IF;
    PERFORM budget_check_kind(p_kind);
    IF p_limit IS NULL OR p_limit < 0 THEN
      RAISE EXCEPTION 'limit must be zero or more' USING ERRCODE = '22023';
    END IF;
    IF p_period IS NULL OR p_period NOT IN ('day', 'month') THEN
      RAISE EXCEPTION 'period must be day or month' USING ERRCODE = '22023';
    END IF;
    PERFORM budget_lock(org, p_kind);
    SELECT * INTO old_b FROM budgets WHERE org_id = org AND kind = p_kind;
    UPDATE budgets SET limit_amount = p_limit, period = p_period, updated_at = now(),
                       period_start = CASE WHEN period = p_period THEN period_start
                                           ELSE budget_window(p_period, now()) END
     WHERE org_id = org AND kind = p_kind
    RETURNING * INTO b;
    PERFORM audit_append(org, app_user(), app_api_key(), 'budget.set', 'budget', NULL,
                         jsonb_build_object('kind', p_kind, 'limit', p_limit, 'period', p_period,
                                            'previous_limit', old_b.limit_amount,
                                            'previous_period', old_b.period),
                         p_client_ip, p_request_id);
    RETURN NEXT b;
  END $$;

-- Removes the limit of one kind (owners and admins): reservations are
-- admitted without one and still counted. Appends `budget.cleared`.
CREATE FUNCTION clear_budget(p_kind text, p_client_ip text, p_request_id text)
  RETURNS SETOF budgets
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    old_b budgets;
    b budgets;
  BEGIN
    IF org IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins clear budgets' USING ERRCODE = '42501';
    END IF;
    PERFORM budget_check_kind(p_kind);
    PERFORM budget_lock(org, p_kind);
    SELECT * INTO old_b FROM budgets WHERE org_id = org AND kind = p_kind;
    UPDATE budgets SET limit_amount = NULL, updated_at = now()
     WHERE org_id = org AND kind = p_kind
    RETURNING * INTO b;
    PERFORM audit_append(org, app_user(), app_api_key(), 'budget.cleared', 'budget', NULL,
                         jsonb_build_object('kind', p_kind, 'previous_limit', old_b.limit_amount),
                         p_client_ip, p_request_id);
    RETURN NEXT b;
  END $$;

-- Admission: reserves p_amount of p_kind for the verified caller (owners,
-- admins, agents and their API keys) for p_ttl_secs, in this one call,
-- under the budget row's lock. Outcome:
--   'admitted'   a new reservation (remaining: what is left after it, NULL
--                without a limit);
--   'replayed'   the key already names a reservation with these arguments:
--                that one, whatever its state (nothing new is held);
--   'conflict'   the key names a reservation with other arguments;
--   'exhausted'  spent + held + p_amount would pass the limit: nothing is
--                written (remaining: what is left).
-- Holds past their expiry do not count: they are returned first.
CREATE FUNCTION reserve_budget(p_kind text, p_amount bigint, p_key text, p_customer uuid,
                               p_ttl_secs int)
  RETURNS TABLE (outcome text, remaining bigint, reservation budget_reservations)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    r budget_reservations;
    b budgets;
    room bigint;
  BEGIN
    IF org IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin', 'agent') THEN
      RAISE EXCEPTION 'only owners, admins and agents reserve budget' USING ERRCODE = '42501';
    END IF;
    PERFORM budget_check_kind(p_kind);
    IF p_amount IS NULL OR p_amount <= 0 THEN
      RAISE EXCEPTION 'amount must be more than zero' USING ERRCODE = '22023';
    END IF;
    IF p_key IS NULL OR char_length(p_key) NOT BETWEEN 1 AND 128 OR p_key ~ '[\x01-\x20\x7f]' THEN
      RAISE EXCEPTION 'idempotency_key must be 1-128 printable characters without spaces'
        USING ERRCODE = '22023';
    END IF;
    IF p_ttl_secs IS NULL OR p_ttl_secs NOT BETWEEN 1 AND 86400 THEN
      RAISE EXCEPTION 'the reservation lifetime must be 1 to 86400 seconds' USING ERRCODE = '22023';
    END IF;
    IF p_customer IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.org_id = org AND c.id = p_customer) THEN
      RAISE EXCEPTION 'no such customer' USING ERRCODE = 'P0002';
    END IF;

    -- A reservation tagged for a customer whose AI processing the input
    -- guard has blocked is refused before anything is held (the column
    -- comes with 0010_input_guard, and PL/pgSQL resolves it when called).
    IF p_customer IS NOT NULL AND EXISTS (
         SELECT 1 FROM customers c
          WHERE c.org_id = org AND c.id = p_customer AND c.ai_blocked_until > now()) THEN
      RAISE EXCEPTION 'AI processing is blocked for this customer' USING ERRCODE = '55000';
    END IF;

    PERFORM budget_lock(org, p_kind);

    -- After the lock, so a concurrent call with the same key that won it
    -- is seen here (it committed before releasing the lock).
    SELECT * INTO r FROM budget_reservations WHERE org_id = org AND idempotency_key = p_key;
    IF FOUND THEN
      IF r.kind = p_kind AND r.amount = p_amount AND r.customer_id IS NOT DISTINCT FROM p_customer THEN
        RETURN QUERY SELECT 'replayed', NULL::bigint, r;
      ELSE
        RETURN QUERY SELECT 'conflict', NULL::bigint, NULL::budget_reservations;
      END IF;
      RETURN;
    END IF;

    SELECT * INTO b FROM budgets WHERE org_id = org AND kind = p_kind;
    room := CASE WHEN b.limit_amount IS NULL THEN NULL
                 ELSE greatest(b.limit_amount - b.spent - b.reserved, 0) END;
    IF room IS NOT NULL AND p_amount > room THEN
      RETURN QUERY SELECT 'exhausted', room, NULL::budget_reservations;
      RETURN;
    END IF;
    INSERT INTO budget_reservations (org_id, id, kind, idempotency_key, customer_id, amount,
                                     created_by_user_id, created_by_api_key_id, expires_at)
    VALUES (org, gen_random_uuid(), p_kind, p_key, p_customer, p_amount,
            app_user(), app_api_key(), now() + make_interval(secs => p_ttl_secs))
    RETURNING * INTO r;
    UPDATE budgets SET reserved = reserved + p_amount, updated_at = now()
     WHERE org_id = org AND kind = p_kind;
    RETURN QUERY SELECT 'admitted', room - p_amount, r;
  END $$;

-- Locks the budget row of the caller's reservation, brings it up to date,
-- and returns the reservation locked. Not granted. NOT_FOUND for an id that
-- is not a reservation of the caller's org (another org's included).
CREATE FUNCTION budget_lock_reservation(p_org uuid, p_reservation uuid) RETURNS budget_reservations
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    k text;
    r public.budget_reservations;
  BEGIN
    SELECT x.kind INTO k FROM public.budget_reservations x
     WHERE x.org_id = p_org AND x.id = p_reservation;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no such reservation' USING ERRCODE = 'P0002';
    END IF;
    PERFORM public.budget_lock(p_org, k);
    SELECT * INTO r FROM public.budget_reservations x
     WHERE x.org_id = p_org AND x.id = p_reservation FOR UPDATE;
    RETURN r;
  END $$;

-- Settles a reservation with the actual amount (owners, admins, agents):
-- its hold is released and the budget charged what fits: at most the hold
-- plus the room left under the limit (all of it without a limit); the rest
-- is recorded as overrun, so spent never passes the limit. A reservation
-- that expired is still settled (its hold was already returned: only the
-- room left can be charged). Settling again with the same amount answers
-- the same reservation ('replayed'); with another amount, or after a
-- release, FAILED_PRECONDITION.
CREATE FUNCTION settle_budget(p_reservation uuid, p_actual bigint)
  RETURNS TABLE (outcome text, reservation budget_reservations)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    r budget_reservations;
    b budgets;
    held bigint;
    charged bigint;
  BEGIN
    IF org IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin', 'agent') THEN
      RAISE EXCEPTION 'only owners, admins and agents settle budget' USING ERRCODE = '42501';
    END IF;
    IF p_actual IS NULL OR p_actual < 0 THEN
      RAISE EXCEPTION 'actual_amount must be zero or more' USING ERRCODE = '22023';
    END IF;
    r := budget_lock_reservation(org, p_reservation);
    IF r.state = 'settled' THEN
      IF r.actual_amount = p_actual THEN
        RETURN QUERY SELECT 'replayed', r;
        RETURN;
      END IF;
      RAISE EXCEPTION 'the reservation was already settled with another amount' USING ERRCODE = '55000';
    END IF;
    IF r.state = 'released' THEN
      RAISE EXCEPTION 'the reservation was released' USING ERRCODE = '55000';
    END IF;
    SELECT * INTO b FROM budgets WHERE org_id = org AND kind = r.kind;
    held := CASE WHEN r.state = 'active' THEN r.amount ELSE 0 END;
    charged := CASE WHEN b.limit_amount IS NULL THEN p_actual
                    ELSE least(p_actual, held + greatest(b.limit_amount - b.spent - b.reserved, 0)) END;
    UPDATE budgets SET spent = spent + charged, reserved = reserved - held,
                       overrun = overrun + (p_actual - charged), updated_at = now()
     WHERE org_id = org AND kind = r.kind;
    UPDATE budget_reservations SET state = 'settled', actual_amount = p_actual,
                                   charged_amount = charged, closed_at = now()
     WHERE org_id = org AND id = r.id
    RETURNING * INTO r;
    RETURN QUERY SELECT 'settled', r;
  END $$;

-- Releases a reservation's hold without charging anything (owners,
-- admins, agents). Releasing again answers the same reservation, as does
-- releasing one that expired (its hold was already returned);
-- FAILED_PRECONDITION after a settlement.
CREATE FUNCTION release_budget(p_reservation uuid)
  RETURNS TABLE (outcome text, reservation budget_reservations)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    r budget_reservations;
  BEGIN
    IF org IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin', 'agent') THEN
      RAISE EXCEPTION 'only owners, admins and agents release budget' USING ERRCODE = '42501';
    END IF;
    r := budget_lock_reservation(org, p_reservation);
    IF r.state = 'settled' THEN
      RAISE EXCEPTION 'the reservation was already settled' USING ERRCODE = '55000';
    END IF;
    IF r.state <> 'active' THEN
      RETURN QUERY SELECT 'replayed', r;
      RETURN;
    END IF;
    UPDATE budgets SET reserved = reserved - r.amount, updated_at = now()
     WHERE org_id = org AND kind = r.kind;
    UPDATE budget_reservations SET state = 'released', closed_at = now()
     WHERE org_id = org AND id = r.id
    RETURNING * INTO r;
    RETURN QUERY SELECT 'released', r;
  END $$;

-- The sweeper (the purge job, `ochre purge` and POST /cron/purge-expired):
-- returns every hold past its expiry, org and kind at a time under the
-- budget row's lock (the same order as admission, so they never
-- deadlock). The number of reservations expired.
CREATE FUNCTION sweep_budget_reservations() RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    t record;
    n int := 0;
  BEGIN
    FOR t IN SELECT DISTINCT r.org_id, r.kind FROM budget_reservations r
              WHERE r.state = 'active' AND r.expires_at <= now() LOOP
      PERFORM 1 FROM budgets b WHERE b.org_id = t.org_id AND b.kind = t.kind FOR UPDATE;
      n := n + budget_refresh(t.org_id, t.kind);
    END LOOP;
    RETURN n;
  END $$;

GRANT EXECUTE ON FUNCTION set_budget(text, bigint, text, text, text),
                          clear_budget(text, text, text),
                          reserve_budget(text, bigint, text, uuid, int),
                          settle_budget(uuid, bigint),
                          release_budget(uuid)
  TO ochre_app;
GRANT EXECUTE ON FUNCTION sweep_budget_reservations() TO ochre_service;
