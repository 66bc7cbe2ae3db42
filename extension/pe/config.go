package pe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// Config configures isolated analysis.
type Config struct {
	// MaxSize is the largest file analyzed; DefaultMaxSize when zero.
	MaxSize int64
	// Timeout bounds one file's analysis; DefaultTimeout when zero. Past
	// it the worker is killed and the file reported as failed.
	Timeout time.Duration
	// RootsFile or RootsPEM give the trusted roots as a PEM bundle.
	RootsFile string
	RootsPEM  []byte
	// SystemRoots trusts the operating system's store (on Windows, where
	// Authenticode roots live).
	SystemRoots bool
	// VerifyAt is the time untimestamped signatures are checked at; the
	// current time when zero. Tests set it so fixtures do not expire.
	VerifyAt time.Time
	// Command builds the worker's command; by default this executable
	// with WorkerCommand. Tests point it at the test binary.
	Command func() *exec.Cmd
	// Log receives the worker's diagnostics; discarded when nil.
	Log io.Writer
}

// DefaultConfig is the configuration the extension runs with unless told
// otherwise: on Windows the system root store, elsewhere no trusted roots
// until a PEM bundle is given.
func DefaultConfig() Config {
	return Config{SystemRoots: runtime.GOOS == "windows"}
}

// DefaultTimeout bounds one file's analysis in the worker. Hashing and
// verifying a 256 MiB file takes a few seconds on a slow disk.
const DefaultTimeout = 30 * time.Second

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// Pool returns the configured root pool: the PEM bundle, the system store,
// or nil (no trusted roots) when neither is set.
func (c *Config) Pool() (*x509.CertPool, error) {
	pemData := c.RootsPEM
	if c.RootsFile != "" {
		b, err := os.ReadFile(c.RootsFile)
		if err != nil {
			return nil, fmt.Errorf("pe: roots: %w", err)
		}
		pemData = b
	}
	switch {
	case c.SystemRoots && len(pemData) > 0:
		return nil, errors.New("pe: roots: give either a PEM bundle or the system store, not both")
	case c.SystemRoots:
		p, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("pe: system roots: %w", err)
		}
		return p, nil
	case len(pemData) > 0:
		return ParseRoots(pemData)
	}
	return nil, nil
}

func (c *Config) workerConfig() (WorkerConfig, error) {
	wc := WorkerConfig{MaxSize: c.MaxSize, RootsPEM: c.RootsPEM, SystemRoots: c.SystemRoots, VerifyAt: c.VerifyAt}
	if c.RootsFile != "" {
		b, err := os.ReadFile(c.RootsFile)
		if err != nil {
			return wc, fmt.Errorf("pe: roots: %w", err)
		}
		wc.RootsPEM = b
	}
	return wc, nil
}

func (c *Config) command() (*exec.Cmd, error) {
	if c.Command != nil {
		return c.Command(), nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("pe: finding the worker binary: %w", err)
	}
	return exec.Command(exe, WorkerCommand), nil
}
