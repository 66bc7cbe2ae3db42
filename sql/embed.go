// Package sqlfiles embeds the project's SQL so binaries carry it: schema/
// holds the sweeper store's migrations, numbered and applied in order.
package sqlfiles

import "embed"

// Schema holds schema/NNNN_name.sql, the store migrations.
//
//go:embed schema/*.sql
var Schema embed.FS
