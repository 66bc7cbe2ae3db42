package hunt

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"scsweep/extension/agent"
	"scsweep/server/datadir"
	"scsweep/server/hostsim"
	"scsweep/server/hub"
	"scsweep/server/store"
)

func TestCanceledHuntKeepsWhatArrived(t *testing.T) {
	dir, err := datadir.Open(t.TempDir(), datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := hub.New(hub.Config{EnrollSecret: dir.EnrollSecret, SigningKey: dir.SigningKey, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = dir.TLSConfig()
	srv.StartTLS()
	defer srv.Close()
	answered := make(chan struct{}, 1)
	wrap := func(host string, r agent.Runner) agent.Runner {
		return func(ctx context.Context, q string) ([]map[string]string, error) {
			if host == "sim-00002" {
				<-ctx.Done() // never answers in time
				return nil, ctx.Err()
			}
			defer func() { answered <- struct{}{} }()
			return r(ctx, q)
		}
	}
	sim, err := hostsim.Start(context.Background(), hostsim.Config{Hosts: 2, RowsPerHost: 10, Dir: t.TempDir(),
		URL: "wss://" + srv.Listener.Addr().String() + "/", CAPEM: dir.CAPEM, EnrollSecret: dir.EnrollSecret, Wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	for h.Connected() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var last Progress
	go func() {
		<-answered
		// Cancel once the answering host's rows are stored.
		for {
			if hunts, _ := st.Hunts(context.Background(), 1); len(hunts) == 1 {
				if a, _ := st.HuntAnswers(context.Background(), hunts[0].ID); len(a) == 1 {
					cancel()
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	pr, err := Run(ctx, h, st, Request{SQL: "SELECT eid FROM process_lineage_events WHERE name = 'cmd.exe'", Timeout: time.Minute}, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if pr.Answered != 2 || pr.Rows != 1 || pr.Failed != 1 || !pr.Done || last != pr {
		t.Errorf("got %+v (last progress %+v), want 2 answered, 1 row, 1 failed, done", pr, last)
	}
	answers, _ := st.HuntAnswers(context.Background(), pr.HuntID)
	if len(answers) != 2 || answers[0].Status != "ok" || answers[1].Status != string(hub.StatusCanceled) {
		t.Errorf("got answers %+v, want sim-00001 ok and sim-00002 canceled", answers)
	}
}
