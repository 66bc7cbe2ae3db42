package lineage

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"scsweep/extension/events"
)

// The batch's memory of store answers must answer exactly as the store
// would, in whatever order the batch asks: pids reused at later times,
// several starts in one second, pids never seen, entity ids unknown.
func TestRememberingAnswersAsTheStore(t *testing.T) {
	ctx := context.Background()
	s, err := events.Open(filepath.Join(t.TempDir(), "events.db"), events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored []*events.Event
	for i, st := range []struct{ pid, t int64 }{
		{100, 10}, {100, 20}, {100, 20}, {100, 35}, {200, 5}, {300, 50}, {300, 90}, {100, 80},
	} {
		stored = append(stored, &events.Event{EID: "s" + strconv.Itoa(i), PID: st.pid, HasPID: true, Time: st.t,
			EntityID: "{" + strconv.Itoa(i) + "}", Name: "x.exe"})
	}
	if _, err := s.Insert(ctx, stored); err != nil {
		t.Fatal(err)
	}
	r := newRemembering(s)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		pid := []int64{100, 200, 300, 400}[rng.IntN(4)]
		notAfter := int64(rng.IntN(110)) - 5
		got, err := r.LatestStart(ctx, pid, notAfter)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.LatestStart(ctx, pid, notAfter)
		if err != nil {
			t.Fatal(err)
		}
		if eid(got) != eid(want) {
			t.Fatalf("LatestStart(%d, %d): got %q, want %q", pid, notAfter, eid(got), eid(want))
		}
		id := "{" + strconv.Itoa(rng.IntN(10)) + "}"
		gotE, err := r.ByEntityID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantE, _ := s.ByEntityID(ctx, id)
		if eid(gotE) != eid(wantE) {
			t.Fatalf("ByEntityID(%s): got %q, want %q", id, eid(gotE), eid(wantE))
		}
	}
}

func eid(ev *events.Event) string {
	if ev == nil {
		return "<none>"
	}
	return ev.EID
}
