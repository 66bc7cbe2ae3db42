package agent

import (
	"fmt"
	"os"
	"strings"
)

// FromFiles builds the Config behind `--sweeper URL --enroll-secret-file F
// --ca-file F [--host-identifier ID]`: it reads the secret and the CA from
// their files. The enroll secret file may be empty once the host holds a
// node key in StateDir.
func FromFiles(sweeperURL, enrollSecretFile, caFile, hostIdentifier string) (Config, error) {
	cfg := Config{URL: sweeperURL, HostID: hostIdentifier}
	if enrollSecretFile != "" {
		b, err := os.ReadFile(enrollSecretFile)
		if err != nil {
			return Config{}, fmt.Errorf("agent: enroll secret: %w", err)
		}
		cfg.EnrollSecret = strings.TrimSpace(string(b))
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return Config{}, fmt.Errorf("agent: CA file: %w", err)
	}
	cfg.CAPEM = b
	return cfg, nil
}
