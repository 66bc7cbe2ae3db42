// Package api is the sweeper's HTTP API for its own command line: start a
// hunt and follow its progress, read a hunt's rows, list hosts and alerts.
// Every request needs the API token as a bearer token; answers are JSON, or
// NDJSON (one object per line) for lists and progress streams.
//
// The API is meant for loopback: CheckLoopback refuses any other address
// unless the caller decided otherwise.
package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"scsweep/server/hub"
	"scsweep/server/hunt"
	"scsweep/server/store"
)

// Config configures the API. All fields but Logger are required.
type Config struct {
	Token  string
	Hub    *hub.Hub
	Store  *store.Store
	Logger *slog.Logger
}

// New returns the API's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Token == "" || cfg.Hub == nil || cfg.Store == nil {
		return nil, errors.New("api: config needs a token, a hub and a store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &server{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/hunts", s.startHunt)
	mux.HandleFunc("GET /api/hunts/{id}", s.getHunt)
	mux.HandleFunc("GET /api/hunts/{id}/rows", s.huntRows)
	mux.HandleFunc("GET /api/hosts", s.hosts)
	mux.HandleFunc("GET /api/alerts", s.alerts)
	return s.auth(mux), nil
}

// CheckLoopback refuses a listen address that is not on loopback.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("api: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("api: listen address %q is not loopback", addr)
	}
	return nil
}

type server struct{ cfg Config }

func (s *server) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			s.cfg.Logger.Warn("api request refused: bad token", "remote", r.RemoteAddr, "path", r.URL.Path)
			writeError(w, http.StatusUnauthorized, "missing or wrong API token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// HuntRequest is the body of POST /api/hunts.
type HuntRequest struct {
	SQL     string   `json:"sql"`
	Hosts   []string `json:"hosts,omitempty"`
	Timeout string   `json:"timeout,omitempty"` // Go duration, default 1m
}

// HuntProgress is one line of the POST /api/hunts stream.
type HuntProgress struct {
	HuntID   string `json:"hunt_id"`
	Targeted int    `json:"targeted"`
	Answered int    `json:"answered"`
	Rows     int    `json:"rows"`
	Failed   int    `json:"failed"`
	Done     bool   `json:"done"`
	Error    string `json:"error,omitempty"`
}

// startHunt runs a hunt and streams its progress as NDJSON; the last line
// has done=true (or an error).
func (s *server) startHunt(w http.ResponseWriter, r *http.Request) {
	var req HuntRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "hunt request: "+err.Error())
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		writeError(w, http.StatusBadRequest, "hunt request: sql is empty")
		return
	}
	timeout := time.Minute
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d <= 0 || d > hub.MaxQueryLifetime {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("hunt request: timeout %q must be a duration up to %s", req.Timeout, hub.MaxQueryLifetime))
			return
		}
		timeout = d
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	emit := func(p HuntProgress) {
		enc.Encode(p)
		if flusher != nil {
			flusher.Flush()
		}
	}
	var hosts []string
	if len(req.Hosts) > 0 {
		hosts = req.Hosts
	}
	pr, err := hunt.Run(r.Context(), s.cfg.Hub, s.cfg.Store, hunt.Request{SQL: req.SQL, Hosts: hosts, Timeout: timeout}, func(p hunt.Progress) {
		if !p.Done {
			emit(HuntProgress{HuntID: p.HuntID, Targeted: p.Targeted, Answered: p.Answered, Rows: p.Rows, Failed: p.Failed})
		}
	})
	last := HuntProgress{HuntID: pr.HuntID, Targeted: pr.Targeted, Answered: pr.Answered, Rows: pr.Rows, Failed: pr.Failed, Done: true}
	if err != nil {
		last.Error = err.Error()
		s.cfg.Logger.Error("hunt failed", "err", err)
	}
	emit(last)
}

// Hunt is the answer of GET /api/hunts/{id}.
type Hunt struct {
	ID       string       `json:"id"`
	SQL      string       `json:"sql"`
	Created  time.Time    `json:"created"`
	Deadline time.Time    `json:"deadline"`
	Finished time.Time    `json:"finished,omitzero"`
	Status   string       `json:"status"`
	Targeted int          `json:"targeted"`
	Hosts    []HostAnswer `json:"hosts"`
}

// HostAnswer is one host's answer within a Hunt.
type HostAnswer struct {
	HostID string `json:"host.id"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	Rows   int    `json:"rows"`
	WallMS int64  `json:"wall_ms"`
}

func (s *server) getHunt(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, err := s.cfg.Store.GetHunt(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no hunt "+id)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	answers, err := s.cfg.Store.HuntAnswers(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := Hunt{ID: h.ID, SQL: h.SQL, Created: h.Created, Deadline: h.Deadline, Finished: h.Finished, Status: h.Status, Targeted: h.Targeted, Hosts: []HostAnswer{}}
	for _, a := range answers {
		out.Hosts = append(out.Hosts, HostAnswer{HostID: a.HostID, Status: a.Status, Error: a.Error, Rows: a.RowCount, WallMS: a.WallMS})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// huntRows streams a hunt's rows as NDJSON, each with its host as host.id.
func (s *server) huntRows(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.cfg.Store.GetHunt(r.Context(), id); err != nil {
		writeError(w, http.StatusNotFound, "no hunt "+id)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	err := s.cfg.Store.HuntRows(r.Context(), id, func(host string, row map[string]string) error {
		line := make(map[string]string, len(row)+1)
		for k, v := range row {
			line[k] = v
		}
		line["host.id"] = host
		return enc.Encode(line)
	})
	if err != nil {
		s.cfg.Logger.Error("hunt rows", "hunt", id, "err", err)
	}
}

// Host is one line of GET /api/hosts, in ECS names where ECS has them.
type Host struct {
	ID             string    `json:"host.id"`
	Hostname       string    `json:"host.hostname,omitempty"`
	OS             string    `json:"host.os.type,omitempty"`
	AgentVersion   string    `json:"agent.version,omitempty"`
	OsqueryVersion string    `json:"osquery.version,omitempty"`
	RemoteAddr     string    `json:"source.address,omitempty"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	Online         bool      `json:"online"`
}

func (s *server) hosts(w http.ResponseWriter, r *http.Request) {
	hosts, err := s.cfg.Store.Hosts(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, h := range hosts {
		enc.Encode(Host{ID: h.ID, Hostname: h.Hostname, OS: h.OS, AgentVersion: h.AgentVersion, OsqueryVersion: h.OsqueryVersion,
			RemoteAddr: h.RemoteAddr, FirstSeen: h.FirstSeen, LastSeen: h.LastSeen, Online: h.Online})
	}
}

// alerts streams alert documents as NDJSON, newest first. Query parameters
// host, rule, severity and limit filter them.
func (s *server) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AlertFilter{HostID: q.Get("host"), RuleID: q.Get("rule"), Severity: q.Get("severity")}
	if l := q.Get("limit"); l != "" {
		if _, err := fmt.Sscanf(l, "%d", &f.Limit); err != nil || f.Limit < 0 {
			writeError(w, http.StatusBadRequest, "limit must be a number")
			return
		}
	}
	alerts, err := s.cfg.Store.Alerts(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	for _, a := range alerts {
		w.Write(a.Doc)
		w.Write([]byte("\n"))
	}
}
