package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
)

// SweepFunc runs the rule with the given id now (every rule when empty)
// and returns what each run did.
type SweepFunc func(ctx context.Context, ruleID string) (any, error)

// SweepHandler serves POST /api/sweeps?rule=ID: run a sweep now and answer
// with its results. It needs the same bearer token as the rest of the API.
func SweepHandler(token string, sweep SweepFunc) http.Handler {
	s := &server{cfg: Config{Token: token, Logger: slog.Default()}}
	return s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "POST only")
			return
		}
		res, err := sweep(r.Context(), r.URL.Query().Get("rule"))
		if err != nil && res == nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		out := map[string]any{"results": res}
		if err != nil {
			out["error"] = err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}))
}
