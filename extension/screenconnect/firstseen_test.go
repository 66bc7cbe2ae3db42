package screenconnect

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func TestFirstSeenKeepsTheFirstTime(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "store.db")
	open := func() *sql.DB {
		t.Helper()
		db, err := sql.Open("sqlite", dbPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := InitFirstSeen(db); err != nil {
			t.Fatalf("InitFirstSeen: %v", err)
		}
		return db
	}
	t1 := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	t2 := t1.Add(5 * time.Minute)

	db := open()
	fs := NewFirstSeen(db)
	fs.Now = func() time.Time { return t1 }
	got, err := fs.Record(ctx, `C:\Program Files (x86)\ScreenConnect`, []string{"sc-admin"})
	if err != nil {
		t.Fatal(err)
	}
	if !got["sc-admin"].Equal(t1) {
		t.Errorf("first record: got %v, want %v", got["sc-admin"], t1)
	}
	db.Close()

	// Reopened store, later sweep, root spelled in another case: the old
	// user keeps its time, the new one gets the sweep's.
	db = open()
	defer db.Close()
	fs = NewFirstSeen(db)
	fs.Now = func() time.Time { return t2 }
	got, err = fs.Record(ctx, `c:\program files (x86)\screenconnect`, []string{"sc-admin", "cloudadmin"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		want time.Time
	}{
		{"sc-admin", t1},
		{"cloudadmin", t2},
	}
	for _, c := range cases {
		if !got[c.name].Equal(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got[c.name], c.want)
		}
	}

	// Another install on the same host is a separate history.
	got, err = fs.Record(ctx, `D:\ScreenConnect`, []string{"sc-admin"})
	if err != nil {
		t.Fatal(err)
	}
	if !got["sc-admin"].Equal(t2) {
		t.Errorf("other install: got %v, want %v", got["sc-admin"], t2)
	}
}

func TestFirstSeenWithoutTableFails(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := NewFirstSeen(db).Record(context.Background(), "/x", []string{"a"}); err == nil {
		t.Errorf("got no error, want one for a store without the table")
	}
}
