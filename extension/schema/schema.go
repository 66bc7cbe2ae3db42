// Package schema is the contract between the extension and the sweeper: the
// osquery tables scsweep.ext serves, their columns, and how each column maps
// to the ECS field that Elastic's detection rules name.
//
// The sweeper never guesses a column name: it compiles rules and reads rows
// through this package, so a change here is a change of the wire contract.
package schema

// ColumnType is an osquery column type as the extension registers it.
type ColumnType string

// The osquery column types scsweep uses.
const (
	Text    ColumnType = "TEXT"
	Integer ColumnType = "INTEGER"
	BigInt  ColumnType = "BIGINT"
	Double  ColumnType = "DOUBLE"
)

// Column is one column of a table.
type Column struct {
	Name        string
	Type        ColumnType
	Description string
	// ECS is the ECS field this column fills in the document the sweeper
	// evaluates; empty when the column has no ECS counterpart.
	ECS string
	// Kind says how the string osquery returns becomes an ECS value.
	Kind ValueKind
	// Pushdown marks columns whose constraints the table hands to the store.
	Pushdown bool
}

// ValueKind is how a column's string value converts to a JSON value.
type ValueKind int

// Value kinds. Every kind treats the empty string as a missing field, so
// EQL's `?field` and null semantics see exactly what the source lacked.
const (
	KindString ValueKind = iota
	KindInt
	KindBool     // "1"/"0", "true"/"false"
	KindUnixTime // seconds since the epoch → RFC 3339 @timestamp
	KindJSON     // a JSON document embedded as text
)

// Table is one osquery table of the extension.
type Table struct {
	Name        string
	Description string
	Columns     []Column
	// Constant ECS fields every row of this table carries (event.category ...).
	Constant map[string]any
}

// Column returns the named column, if the table has it.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames lists the column names in declaration order.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// ColumnForECS returns the column that fills the ECS field, if any.
func (t *Table) ColumnForECS(field string) (Column, bool) {
	for _, c := range t.Columns {
		if c.ECS != "" && c.ECS == field {
			return c, true
		}
	}
	return Column{}, false
}

var tables = []*Table{&ProcessLineageEvents}

// register adds a table to the list Tables returns. It is called from init
// functions of this package only, so the list is complete before main runs.
func register(t *Table) { tables = append(tables, t) }

// Tables returns every table the extension serves.
func Tables() []*Table { return tables }

// Lookup returns the table with the given name.
func Lookup(name string) (*Table, bool) {
	for _, t := range tables {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}
