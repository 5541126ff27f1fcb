-- The statement runner of `migverify verify`, created as a temporary function in each world.
--
-- One call runs many examples (short workloads) in one round trip. Each example starts from the
-- prepared state: its sequences are put back, its statements run one by one, each in its own
-- subtransaction (an error ends the statement, not the example), and the example ends with a
-- digest of the compared relations. Then the whole example is rolled back by raising MVRB0,
-- unless KEEP is set (the caller then ends the transaction itself).
--
-- One row per statement: its SQLSTATE and message when it failed, the rows it affected, and the
-- rows it returned as a JSON array (row_to_json keeps column order and duplicate names). After
-- each example one more row with k = 0 carries the digest: one field per compared relation,
-- separated by tabs, empty for a relation none of whose tables changed (the caller knows its
-- digest at the prepared state). A relation's tables are WATCH[i] with WATCH_REL[i] its number;
-- whether they changed is read from the transaction's own tuple counters. DIGEST_MODE per
-- statement: 0 the example writes nothing (no digest), 1 digest the changed relations, 2 digest
-- every relation (TRUNCATE, which the tuple counters do not see).
CREATE FUNCTION pg_temp.migverify_run(
    example integer[], stmts text[], preludes text[], postludes text[], returns_rows boolean[],
    seq_names text[], seq_last bigint[], seq_called boolean[], keep boolean,
    digest_mode integer[], digests text[], watch oid[], watch_rel integer[]
) RETURNS TABLE (ex integer, k integer, state text, message text, nrows bigint, result text)
LANGUAGE plpgsql AS $runner$
DECLARE
    rec record;
    acc text[];
    first integer := 1;
    last integer;
    total integer := coalesce(array_length(stmts, 1), 0);
    s integer;
    before bigint[];
    parts text[];
    changed boolean[];
BEGIN
    WHILE first <= total LOOP
        last := first;
        WHILE last < total AND example[last + 1] = example[first] LOOP
            last := last + 1;
        END LOOP;
        FOR s IN 1 .. coalesce(array_length(seq_names, 1), 0) LOOP
            PERFORM setval(seq_names[s]::regclass, seq_last[s], seq_called[s]);
        END LOOP;
        BEGIN
            -- Each statement stands for its own transaction (the application's autocommit):
            -- deferred constraints are checked at its end, as a COMMIT would.
            SET CONSTRAINTS ALL IMMEDIATE;
            IF digest_mode[first] > 0 THEN
                before := ARRAY(
                    SELECT pg_stat_get_xact_tuples_inserted(w.o)
                           + pg_stat_get_xact_tuples_updated(w.o)
                           + pg_stat_get_xact_tuples_deleted(w.o)
                    FROM unnest(watch) WITH ORDINALITY AS w(o, n) ORDER BY w.n);
            END IF;
            FOR s IN first .. last LOOP
                ex := example[s]; k := s; state := NULL; message := NULL; nrows := 0;
                result := NULL;
                BEGIN
                    IF preludes[s] IS NOT NULL THEN
                        EXECUTE preludes[s];
                    END IF;
                    IF returns_rows[s] THEN
                        acc := '{}';
                        FOR rec IN EXECUTE stmts[s] LOOP
                            acc := acc || row_to_json(rec)::text;
                        END LOOP;
                        nrows := coalesce(array_length(acc, 1), 0);
                        result := '[' || array_to_string(acc, ',') || ']';
                    ELSE
                        EXECUTE stmts[s];
                        GET DIAGNOSTICS nrows = ROW_COUNT;
                    END IF;
                    IF postludes[s] IS NOT NULL THEN
                        EXECUTE postludes[s];
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
                END;
                RETURN NEXT;
            END LOOP;
            IF digest_mode[first] > 0 THEN
                ex := example[first]; k := 0; state := NULL; message := NULL; nrows := 0;
                changed := array_fill(digest_mode[first] = 2, ARRAY[array_length(digests, 1)]);
                FOR s IN 1 .. coalesce(array_length(watch, 1), 0) LOOP
                    IF pg_stat_get_xact_tuples_inserted(watch[s])
                       + pg_stat_get_xact_tuples_updated(watch[s])
                       + pg_stat_get_xact_tuples_deleted(watch[s]) <> before[s] THEN
                        changed[watch_rel[s]] := true;
                    END IF;
                END LOOP;
                parts := '{}';
                BEGIN
                    FOR s IN 1 .. coalesce(array_length(digests, 1), 0) LOOP
                        IF changed[s] THEN
                            result := pg_temp.migverify_digest(s);
                            parts := parts || result;
                        ELSE
                            parts := parts || ''::text;
                        END IF;
                    END LOOP;
                    result := array_to_string(parts, E'\t');
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
                    result := NULL;
                END;
                RETURN NEXT;
            END IF;
            IF NOT keep THEN
                RAISE EXCEPTION 'migverify: end of example' USING ERRCODE = 'MVRB0';
            END IF;
        EXCEPTION WHEN SQLSTATE 'MVRB0' THEN
            NULL;
        END;
        first := last + 1;
    END LOOP;
END
$runner$;
