package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Host is one enrolled host.
type Host struct {
	ID             string
	NodeKeyHash    string
	Hostname       string
	OS             string
	AgentVersion   string
	OsqueryVersion string
	RemoteAddr     string
	FirstSeen      time.Time
	LastSeen       time.Time
	Online         bool
}

// EnrollHost records a host that enrolled, or re-enrolled with the secret:
// its node key hash is replaced, its first-seen time kept.
func (s *Store) EnrollHost(ctx context.Context, h Host) error {
	return s.write(ctx, "enroll host "+h.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO hosts (host_id, node_key_hash, hostname, os, agent_version, osquery_version, remote_addr, first_seen, last_seen, online)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (host_id) DO UPDATE SET node_key_hash = excluded.node_key_hash, hostname = excluded.hostname, os = excluded.os,
				agent_version = excluded.agent_version, osquery_version = excluded.osquery_version, remote_addr = excluded.remote_addr,
				last_seen = excluded.last_seen, online = excluded.online`,
			h.ID, h.NodeKeyHash, h.Hostname, h.OS, h.AgentVersion, h.OsqueryVersion, h.RemoteAddr, ms(h.FirstSeen), ms(h.LastSeen), h.Online)
		return err
	})
}

// NodeKeyHash returns the stored node key hash of a host, or ErrNotFound.
func (s *Store) NodeKeyHash(ctx context.Context, hostID string) (string, error) {
	var h string
	err := s.db.QueryRowContext(ctx, `SELECT node_key_hash FROM hosts WHERE host_id = ?`, hostID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: host %s: %w", hostID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: host %s: %w", hostID, err)
	}
	return h, nil
}

// HostUpdate is what a reconnect or disconnect changes about a host.
type HostUpdate struct {
	ID             string
	Hostname       string
	OS             string
	AgentVersion   string
	OsqueryVersion string
	RemoteAddr     string
	Seen           time.Time
	Online         bool
}

// UpdateHosts applies presence changes in one transaction; unknown hosts
// are skipped (a host exists only once it enrolled).
func (s *Store) UpdateHosts(ctx context.Context, ups []HostUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	return s.write(ctx, "update hosts", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE hosts SET
			hostname = CASE WHEN ?1 = '' THEN hostname ELSE ?1 END,
			os = CASE WHEN ?2 = '' THEN os ELSE ?2 END,
			agent_version = CASE WHEN ?3 = '' THEN agent_version ELSE ?3 END,
			osquery_version = CASE WHEN ?4 = '' THEN osquery_version ELSE ?4 END,
			remote_addr = CASE WHEN ?5 = '' THEN remote_addr ELSE ?5 END,
			last_seen = MAX(last_seen, ?6), online = ?7
			WHERE host_id = ?8`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, u := range ups {
			if _, err := st.ExecContext(ctx, u.Hostname, u.OS, u.AgentVersion, u.OsqueryVersion, u.RemoteAddr, ms(u.Seen), u.Online, u.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkAllOffline clears every online flag: at start-up no host is connected.
func (s *Store) MarkAllOffline(ctx context.Context) error {
	return s.write(ctx, "mark hosts offline", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE hosts SET online = 0 WHERE online != 0`)
		return err
	})
}

const hostCols = `host_id, node_key_hash, hostname, os, agent_version, osquery_version, remote_addr, first_seen, last_seen, online`

func scanHost(sc interface{ Scan(...any) error }) (Host, error) {
	var h Host
	var first, last int64
	err := sc.Scan(&h.ID, &h.NodeKeyHash, &h.Hostname, &h.OS, &h.AgentVersion, &h.OsqueryVersion, &h.RemoteAddr, &first, &last, &h.Online)
	h.FirstSeen, h.LastSeen = fromMS(first), fromMS(last)
	return h, err
}

// Host returns one host, or ErrNotFound.
func (s *Store) Host(ctx context.Context, id string) (Host, error) {
	h, err := scanHost(s.db.QueryRowContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE host_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Host{}, fmt.Errorf("store: host %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Host{}, fmt.Errorf("store: host %s: %w", id, err)
	}
	return h, nil
}

// Hosts returns every host, ordered by id.
func (s *Store) Hosts(ctx context.Context) ([]Host, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+hostCols+` FROM hosts ORDER BY host_id`)
	if err != nil {
		return nil, fmt.Errorf("store: hosts: %w", err)
	}
	defer rows.Close()
	var out []Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("store: hosts: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: hosts: %w", err)
	}
	return out, nil
}
