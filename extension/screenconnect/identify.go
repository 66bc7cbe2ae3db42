package screenconnect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/saferwall/pe"
	pelog "github.com/saferwall/pe/log"
)

// maxIdentifySize bounds the binaries DefaultIdentify reads; ScreenConnect's
// service binary is a few hundred KiB.
const maxIdentifySize = 256 << 20

// discardLogger keeps the PE parser quiet: osquery owns the extension's
// stdout, and the parser logs to stdout unless given a logger.
type discardLogger struct{}

func (discardLogger) Log(pelog.Level, ...any) error { return nil }

// DefaultIdentify reads a binary's version resource, SHA-256 and Authenticode
// signer. It checks the signature's digest against the file but not the
// certificate chain (that needs the host's trust store), so SignerTrusted is
// left empty; a fuller PE identity reader can take its place in Options.
func DefaultIdentify(ctx context.Context, path string) (Identity, error) {
	var id Identity
	f, err := os.Open(path)
	if err != nil {
		return id, fmt.Errorf("identify %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return id, fmt.Errorf("identify %s: %w", path, err)
	}
	if st.Size() > maxIdentifySize {
		return id, fmt.Errorf("identify %s: %d bytes is over the %d byte limit", path, st.Size(), maxIdentifySize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIdentifySize))
	if err != nil {
		return id, fmt.Errorf("identify %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return id, fmt.Errorf("identify %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	id.SHA256 = hex.EncodeToString(sum[:])

	p, err := parsePE(data)
	if err != nil {
		return id, fmt.Errorf("identify %s: %w", path, err)
	}
	vers, err := p.ParseVersionResources()
	if err != nil {
		return id, fmt.Errorf("identify %s: version resource: %w", path, err)
	}
	id.FileVersion = vers["FileVersion"]
	id.ProductVersion = vers["ProductVersion"]
	id.OriginalFileName = vers["OriginalFilename"]
	id.CompanyName = vers["CompanyName"]
	id.ProductName = vers["ProductName"]

	id.SignatureStatus = "unsigned"
	if p.IsSigned && len(p.Certificates.Certificates) > 0 {
		c := p.Certificates.Certificates[0]
		id.SignerSubject = c.Info.Subject
		id.SignerIssuer = c.Info.Issuer
		id.SignatureStatus = "signed"
		if h := c.SignatureContent.HashFunction; h.Available() {
			got := p.AuthentihashExt(h.New())
			if len(got) == 0 || !bytes.Equal(got[0], c.SignatureContent.HashResult) {
				id.SignatureStatus = "errorBadDigest"
			}
		}
	}
	return id, nil
}

// parsePE parses data, turning a parser panic on a hostile file into an
// error: a crafted binary in an install folder must not take osquery down.
func parsePE(data []byte) (p *pe.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pe parser failed: %v", r)
		}
	}()
	p, err = pe.NewBytes(data, &pe.Options{
		DisableCertValidation:      true,
		DisableSignatureValidation: true,
		OmitExportDirectory:        true,
		OmitImportDirectory:        true,
		OmitExceptionDirectory:     true,
		OmitRelocDirectory:         true,
		OmitDebugDirectory:         true,
		OmitTLSDirectory:           true,
		OmitLoadConfigDirectory:    true,
		OmitBoundImportDirectory:   true,
		OmitIATDirectory:           true,
		OmitDelayImportDirectory:   true,
		OmitCLRHeaderDirectory:     true,
		OmitCLRMetadata:            true,
		Logger:                     discardLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("pe: %w", err)
	}
	if err := p.Parse(); err != nil {
		return nil, fmt.Errorf("pe: %w", err)
	}
	return p, nil
}
