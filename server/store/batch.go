package store

import (
	"context"
	"database/sql"
	"strings"
)

// batchRows is how many rows one multi-row INSERT carries. A sweep writes a
// run row and a watermark per host: one statement per row made the store
// the largest part of a 10k-host sweep, and 64 rows of 13 columns stay far
// under SQLite's bound on parameters.
const batchRows = 64

// batchInsert writes rows through multi-row INSERT statements inside one
// transaction. The full-size statement is prepared once and reused; the
// last, shorter batch gets its own.
type batchInsert struct {
	ctx        context.Context
	tx         *sql.Tx
	head, tail string // INSERT ... VALUES, and what follows the rows
	cols       int
	args       []any
	full       *sql.Stmt
}

func (b *batchInsert) statement(rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", b.cols), ", ") + ")"
	return b.head + strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ") + b.tail
}

// add queues one row, writing a full batch when there is one.
func (b *batchInsert) add(vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) < batchRows*b.cols {
		return nil
	}
	if b.full == nil {
		st, err := b.tx.PrepareContext(b.ctx, b.statement(batchRows))
		if err != nil {
			return err
		}
		b.full = st
	}
	_, err := b.full.ExecContext(b.ctx, b.args...)
	b.args = b.args[:0]
	return err
}

// flush writes the rows still queued.
func (b *batchInsert) flush() error {
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(b.ctx, b.statement(len(b.args)/b.cols), b.args...)
	b.args = b.args[:0]
	return err
}

func (b *batchInsert) close() {
	if b.full != nil {
		b.full.Close()
	}
}
