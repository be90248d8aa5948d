-- secret_fields is stored in the shape clients read it, so reads serve the
-- column as is (like provider_config): every entry gains "set": true.
UPDATE connections
SET secret_fields = (SELECT jsonb_agg(entry || '{"set": true}') FROM jsonb_array_elements(secret_fields) AS entry)
WHERE jsonb_array_length(secret_fields) > 0;
