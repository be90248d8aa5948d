-- Every list answers its total (Mixpeek's clients require it), and counting
-- an organization's rows costs milliseconds per list at tens of thousands
-- of connections. These counters keep the totals by (organization,
-- provider_type, status), maintained by a trigger in the same transaction
-- as the row, so a list without a name search sums at most a few dozen
-- counters instead.
CREATE TABLE connection_counts (
    internal_id   text   NOT NULL,
    provider_type text   NOT NULL,
    status        text   NOT NULL,
    n             bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (internal_id, provider_type, status)
);

INSERT INTO connection_counts (internal_id, provider_type, status, n)
SELECT internal_id, provider_type, status, count(*) FROM connections GROUP BY 1, 2, 3;

-- A row moving between two counters (a status change) takes their locks in
-- key order, so two opposite moves cannot deadlock.
CREATE FUNCTION connection_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    dec_key text := NULL;
    inc_key text := NULL;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        dec_key := OLD.provider_type || '/' || OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        inc_key := NEW.provider_type || '/' || NEW.status;
    END IF;
    IF dec_key IS NOT DISTINCT FROM inc_key THEN
        RETURN NULL;
    END IF;
    IF inc_key IS NOT NULL AND (dec_key IS NULL OR inc_key < dec_key) THEN
        INSERT INTO connection_counts AS c (internal_id, provider_type, status, n)
        VALUES (NEW.internal_id, NEW.provider_type, NEW.status, 1)
        ON CONFLICT (internal_id, provider_type, status) DO UPDATE SET n = c.n + 1;
        inc_key := NULL;
    END IF;
    IF dec_key IS NOT NULL THEN
        UPDATE connection_counts SET n = n - 1
        WHERE internal_id = OLD.internal_id AND provider_type = OLD.provider_type AND status = OLD.status;
    END IF;
    IF inc_key IS NOT NULL THEN
        INSERT INTO connection_counts AS c (internal_id, provider_type, status, n)
        VALUES (NEW.internal_id, NEW.provider_type, NEW.status, 1)
        ON CONFLICT (internal_id, provider_type, status) DO UPDATE SET n = c.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER connection_counts_track
    AFTER INSERT OR DELETE OR UPDATE OF internal_id, provider_type, status ON connections
    FOR EACH ROW EXECUTE FUNCTION connection_counts_track();
