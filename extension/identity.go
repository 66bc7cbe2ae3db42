package main

import (
	"context"
	"strings"

	"scsweep/extension/config"
	"scsweep/extension/events"
	"scsweep/extension/pe"
	"scsweep/extension/screenconnect"
)

// peIdentity is the extension's one PE analyzer: an isolated worker
// process (files on a compromised server are the attacker's) behind a
// cache, shared by event enrichment and the ScreenConnect scanner.
type peIdentity struct {
	iso *pe.Isolated
	enr *pe.Enricher
}

func newPEIdentity(cfg config.Config) (*peIdentity, error) {
	pc := pe.DefaultConfig()
	if cfg.RootsPEM != "" {
		pc.RootsFile = cfg.RootsPEM
	}
	iso, err := pe.NewIsolated(pc)
	if err != nil {
		return nil, err
	}
	return &peIdentity{iso: iso, enr: pe.NewEnricher(iso, 0)}, nil
}

func (p *peIdentity) Close() { p.iso.Close() }

// enrich fills what the record lacks from the image on this host.
func (p *peIdentity) enrich(ctx context.Context, ev *events.Event) error {
	return p.enr.Enrich(ctx, ev)
}

// scIdentify reads the ScreenConnect service binary through the same
// analyzer, so its signer is checked against the same roots.
func (p *peIdentity) scIdentify(ctx context.Context, path string) (screenconnect.Identity, error) {
	id, err := p.enr.Identify(ctx, path)
	if err != nil {
		return screenconnect.Identity{}, err
	}
	trusted := "0"
	if id.Signature.Trusted {
		trusted = "1"
	}
	if !id.Signature.Present {
		trusted = ""
	}
	return screenconnect.Identity{
		FileVersion:      strings.TrimSpace(id.FileVersion),
		OriginalFileName: id.OriginalFileName,
		CompanyName:      id.Company,
		ProductName:      id.Product,
		SHA256:           id.SHA256,
		SignatureStatus:  id.Signature.Status,
		SignerSubject:    id.Signature.Subject,
		SignerIssuer:     id.Signature.Issuer,
		SignerTrusted:    trusted,
	}, nil
}
