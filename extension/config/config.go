// Package config reads scsweep.ext's settings: a JSON file (by default in
// the OS's usual place) that command-line flags may override. osqueryd
// passes only its own flags to an extension, so everything scsweep needs
// beyond those lives here.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Config is the extension's configuration. Durations are Go duration
// strings in the file ("720h", "15s").
type Config struct {
	// EventsDB is the SQLite file of the local event store.
	EventsDB string `json:"events_db"`
	// Retention of the event store.
	RetentionMaxAge   Duration `json:"retention_max_age"`
	RetentionMaxBytes int64    `json:"retention_max_bytes"`
	// GenerateTimeout bounds one table generate; MaxRows one result.
	GenerateTimeout Duration `json:"generate_timeout"`
	MaxRows         int      `json:"max_rows"`
	// ScreenConnectRoots are install roots to scan beside the discovered ones.
	ScreenConnectRoots []string `json:"screenconnect_roots"`
	// RootsPEM is a PEM bundle of trusted roots for Authenticode checks where
	// the OS has no root store of its own (everywhere but Windows).
	RootsPEM string `json:"roots_pem"`
}

// Duration is a time.Duration written as a string in JSON.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts "15s" style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"15s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// DataDir is where the extension keeps its state by default.
func DataDir() string {
	if runtime.GOOS == "windows" {
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		return filepath.Join(base, "scsweep")
	}
	return "/var/lib/scsweep"
}

// DefaultPath is where the config file is looked for when --config is not
// given: %ProgramData%\scsweep\scsweep.conf on Windows, /etc/scsweep/scsweep.conf
// elsewhere.
func DefaultPath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(DataDir(), "scsweep.conf")
	}
	return "/etc/scsweep/scsweep.conf"
}

// Default returns the configuration used when the file says nothing.
func Default() Config {
	return Config{
		EventsDB:          filepath.Join(DataDir(), "events.db"),
		RetentionMaxAge:   Duration{30 * 24 * time.Hour},
		RetentionMaxBytes: 1 << 30,
		GenerateTimeout:   Duration{15 * time.Second},
		MaxRows:           1_000_000,
	}
}

// Load reads the file at path over the defaults. A missing file is an error
// only when required (the user named it); the default path may be absent.
func Load(path string, required bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, c.Validate()
}

// Validate rejects settings that cannot work.
func (c Config) Validate() error {
	if c.EventsDB == "" {
		return errors.New("config: events_db is empty")
	}
	if c.GenerateTimeout.Duration <= 0 {
		return errors.New("config: generate_timeout must be positive")
	}
	if c.MaxRows <= 0 {
		return errors.New("config: max_rows must be positive")
	}
	return nil
}
