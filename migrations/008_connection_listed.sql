-- The filter of a connection list, written once. ListConnections and
-- CountConnections apply it to connections, and ListConnections to the
-- connection_counts counters (a counter has no name: it is passed as NULL,
-- with no search). is_active is status = ACTIVE, as the generated column of
-- connections says.
--
-- One SQL expression, no more than STABLE: the planner inlines the call, so
-- every query plans exactly as if the expression were written out in it.
CREATE FUNCTION connection_listed(
    row_status text, row_provider_type text, row_name text,
    want_status text, want_provider_type text, want_is_active boolean, want_name_like text
) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (want_status IS NULL AND row_status <> 'ARCHIVED' OR row_status = want_status)
       AND (want_provider_type IS NULL OR row_provider_type = want_provider_type)
       AND (want_is_active IS NULL OR (row_status = 'ACTIVE') = want_is_active)
       AND (want_name_like IS NULL OR row_name ILIKE '%' || want_name_like || '%' ESCAPE '\')
$$;
