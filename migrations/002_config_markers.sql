-- provider_config now stores the redaction marker at each stored secret's
-- path, so reads serve the column as is. Put the markers into rows written
-- before, from their secret_fields (dotted paths).
DO $$
DECLARE
    r record;
    f jsonb;
BEGIN
    FOR r IN SELECT internal_id, connection_id, secret_fields FROM connections
             WHERE jsonb_array_length(secret_fields) > 0 LOOP
        FOR f IN SELECT value FROM jsonb_array_elements(r.secret_fields) LOOP
            UPDATE connections
            SET provider_config = jsonb_set(provider_config, string_to_array(f ->> 'field', '.'), '"***REDACTED***"', true)
            WHERE internal_id = r.internal_id AND connection_id = r.connection_id;
        END LOOP;
    END LOOP;
END
$$;
