// Package migrations embeds the numbered SQL schema files. They are applied in
// order by store.Migrate and read by sqlc as the schema.
package migrations

import "embed"

// FS holds every NNN_name.sql file of this directory.
//
//go:embed *.sql
var FS embed.FS
