package tables

import (
	"context"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/schema"
	"scsweep/extension/screenconnect"
)

// ScreenConnect serves the ScreenConnect server artifact tables. A query
// constrained on root (root = 'X' or root IN (...)) scans just those trees,
// which is also how an image of another machine's disk is examined.
func ScreenConnect(opts screenconnect.Options, firstSeen *screenconnect.FirstSeen) []Table {
	scan := func(f func(context.Context, screenconnect.Options) ([]map[string]string, error)) table.GenerateFunc {
		return func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
			return f(ctx, rootsFromContext(opts, qc))
		}
	}
	return []Table{
		{Schema: &schema.ScreenConnectServers, Generate: scan(screenconnect.Servers)},
		{Schema: &schema.ScreenConnectUsers, Generate: scan(func(ctx context.Context, o screenconnect.Options) ([]map[string]string, error) {
			return screenconnect.Users(ctx, o, firstSeen)
		})},
		{Schema: &schema.ScreenConnectExtensions, Generate: scan(screenconnect.Extensions)},
		{Schema: &schema.ScreenConnectSetupFiles, Generate: scan(screenconnect.SetupFiles)},
	}
}

// rootsFromContext narrows a scan to the roots a query names by equality.
func rootsFromContext(opts screenconnect.Options, qc table.QueryContext) screenconnect.Options {
	var roots []string
	for _, c := range qc.Constraints["root"].Constraints {
		if c.Operator == table.OperatorEquals {
			roots = append(roots, c.Expression)
		}
	}
	if len(roots) > 0 {
		opts.Roots, opts.OnlyRoots = roots, true
	}
	return opts
}
