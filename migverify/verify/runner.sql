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
-- each example one more row with k = 0 carries the digest.
CREATE FUNCTION pg_temp.migverify_run(
    example integer[], stmts text[], preludes text[], postludes text[], returns_rows boolean[],
    seq_names text[], seq_last bigint[], seq_called boolean[], digest_sql text, keep boolean
) RETURNS TABLE (ex integer, k integer, state text, message text, nrows bigint, result text)
LANGUAGE plpgsql AS $runner$
DECLARE
    rec record;
    acc text[];
    first integer := 1;
    last integer;
    total integer := coalesce(array_length(stmts, 1), 0);
    s integer;
BEGIN
    WHILE first <= total OR (total = 0 AND first = 1) LOOP
        last := first;
        WHILE last < total AND example[last + 1] = example[first] LOOP
            last := last + 1;
        END LOOP;
        FOR s IN 1 .. coalesce(array_length(seq_names, 1), 0) LOOP
            PERFORM setval(seq_names[s]::regclass, seq_last[s], seq_called[s]);
        END LOOP;
        BEGIN
            FOR s IN first .. last LOOP
                EXIT WHEN total = 0;
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
            IF digest_sql IS NOT NULL THEN
                ex := CASE WHEN total = 0 THEN 0 ELSE example[first] END;
                k := 0; state := NULL; message := NULL; nrows := 0;
                BEGIN
                    EXECUTE digest_sql INTO result;
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
        EXIT WHEN total = 0;
        first := last + 1;
    END LOOP;
END
$runner$;
