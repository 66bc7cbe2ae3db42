package pe

import (
	"bytes"
	"crypto/hmac"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	saferwall "github.com/saferwall/pe"
	"github.com/sassoftware/relic/v8/lib/authenticode"
	"github.com/sassoftware/relic/v8/lib/pkcs7"
	"github.com/sassoftware/relic/v8/signers/sigerrors"
)

// oidNestedSignature is szOID_NESTED_SIGNATURE: further signatures (for
// example a SHA-256 one next to a SHA-1 one) stored as an unauthenticated
// attribute of the primary signature.
var oidNestedSignature = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 4, 1}

// verifyAuthenticode checks the primary signature of a PE image: its
// PKCS#7 signature and countersignature (relic), its digest against the
// image, and its chain to opts.Roots at the timestamp's time.
func verifyAuthenticode(data []byte, f *saferwall.File, opts *Options) Signature {
	// relic allocates the certificate table at the size the header claims
	// (up to 4 GiB) before reading it: check it fits in the file first.
	dir, ok := certificateTable(f)
	if !ok || dir.Size == 0 {
		return Signature{Status: StatusUnsigned}
	}
	if uint64(dir.VirtualAddress)+uint64(dir.Size) > uint64(len(data)) {
		return Signature{Present: true, Status: StatusBadSignature, Error: "certificate table extends past the end of the file"}
	}
	sigs, err := authenticode.VerifyPE(bytes.NewReader(data), true)
	if err != nil {
		var notSigned sigerrors.NotSignedError
		if errors.As(err, &notSigned) {
			return Signature{Status: StatusUnsigned}
		}
		return Signature{Present: true, Status: StatusBadSignature, Error: err.Error()}
	}
	if len(sigs) == 0 {
		return Signature{Status: StatusUnsigned}
	}
	ps := sigs[0]
	s := Signature{Present: true}
	if c := ps.Certificate; c != nil {
		s.Subject = commonName(c.Subject.CommonName, c.Subject.String())
		s.Issuer = commonName(c.Issuer.CommonName, c.Issuer.String())
		s.Serial = strings.ToLower(c.SerialNumber.Text(16))
	}
	if ps.CounterSignature != nil {
		s.Timestamp = ps.CounterSignature.SigningTime.UTC()
		s.TimestampKind = timestampKind(ps.SignerInfo)
	}
	s.Nested = countNested(ps.SignerInfo)

	s.DigestValid, err = digestMatches(data, f, &ps)
	if err != nil {
		s.Status, s.Error = StatusBadDigest, err.Error()
		return s
	}
	if !s.DigestValid {
		s.Status, s.Error = StatusBadDigest, "the image does not match its signed digest"
		return s
	}
	if err := verifyChains(&ps, opts); err != nil {
		s.Status, s.Error = chainStatus(err), err.Error()
		if ce := unparsedCertificates(ps.CertError); ce != nil {
			s.Error += "; a certificate in the signature could not be parsed: " + ce.Error()
		}
		if cs := ps.CounterSignature; cs != nil {
			if ce := unparsedCertificates(cs.CertError); ce != nil {
				s.Error += "; a certificate in the timestamp could not be parsed: " + ce.Error()
			}
		}
		return s
	}
	s.Status, s.Trusted = StatusTrusted, true
	return s
}

// certificateTable returns the security data directory entry, whose
// "virtual address" is a file offset.
func certificateTable(f *saferwall.File) (saferwall.DataDirectory, bool) {
	switch h := f.NtHeader.OptionalHeader.(type) {
	case saferwall.ImageOptionalHeader32:
		return h.DataDirectory[saferwall.ImageDirectoryEntryCertificate], true
	case saferwall.ImageOptionalHeader64:
		return h.DataDirectory[saferwall.ImageDirectoryEntryCertificate], true
	}
	return saferwall.DataDirectory{}, false
}

func commonName(cn, full string) string {
	if cn != "" {
		return cn
	}
	return full
}

var oidCounterSignature = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 6}

func timestampKind(si *pkcs7.SignerInfo) string {
	if si == nil {
		return ""
	}
	for _, a := range si.UnauthenticatedAttributes {
		if a.Type.Equal(oidCounterSignature) {
			return "legacy"
		}
	}
	return "rfc3161"
}

func countNested(si *pkcs7.SignerInfo) int {
	if si == nil {
		return 0
	}
	n := 0
	for _, a := range si.UnauthenticatedAttributes {
		if !a.Type.Equal(oidNestedSignature) {
			continue
		}
		rest := a.Values.Bytes
		for len(rest) > 0 {
			var v asn1.RawValue
			r, err := asn1.Unmarshal(rest, &v)
			if err != nil {
				break
			}
			rest = r
			n++
		}
	}
	return n
}

// digestMatches computes the image's Authenticode hash with the signature's
// algorithm. relic's section-ordered digest is the specification's; files
// whose sections are not laid out back to back (some EFI images) get the
// linear digest signtool and the Windows loader also accept.
func digestMatches(data []byte, f *saferwall.File, ps *authenticode.PESignature) (bool, error) {
	if ps.Indirect == nil {
		return false, errors.New("signature has no image digest")
	}
	want := ps.Indirect.MessageDigest.Digest
	if !ps.ImageHashFunc.Available() {
		return false, fmt.Errorf("unsupported digest algorithm %v", ps.ImageHashFunc)
	}
	d, err := authenticode.DigestPE(bytes.NewReader(data), ps.ImageHashFunc, false)
	if err == nil && hmac.Equal(d.Imprint, want) {
		return true, nil
	}
	linear := f.AuthentihashExt(ps.ImageHashFunc.New())
	if len(linear) == 1 && hmac.Equal(linear[0], want) {
		return true, nil
	}
	return false, nil
}

// verifyChains verifies the timestamp's chain, then the signer's at the
// timestamp's time: a signature made while the certificate was valid stays
// valid after it expires, as on Windows.
func verifyChains(ps *authenticode.PESignature, opts *Options) error {
	roots := opts.Roots
	if roots == nil {
		// A nil pool would make crypto/x509 fall back to the system
		// roots; no configured roots must mean no trust.
		roots = x509.NewCertPool()
	}
	at := opts.Now
	if at.IsZero() {
		at = time.Now()
	}
	if cs := ps.CounterSignature; cs != nil {
		prepareCerts(cs.Certificate, cs.Intermediates, ps.Intermediates)
		if err := verifyChain(cs.Certificate, roots, cs.Intermediates, ps.Intermediates, x509.ExtKeyUsageTimeStamping, cs.SigningTime); err != nil {
			return &timestampError{err}
		}
		at = cs.SigningTime
	}
	prepareCerts(ps.Certificate, ps.Intermediates)
	return verifyChain(ps.Certificate, roots, ps.Intermediates, nil, x509.ExtKeyUsageCodeSigning, at)
}

type timestampError struct{ err error }

func (e *timestampError) Error() string { return "timestamp: " + e.err.Error() }
func (e *timestampError) Unwrap() error { return e.err }

func verifyChain(leaf *x509.Certificate, roots *x509.CertPool, inter, extra []*x509.Certificate, usage x509.ExtKeyUsage, at time.Time) error {
	if leaf == nil {
		return errors.New("signer certificate not found in the signature")
	}
	pool := x509.NewCertPool()
	for _, c := range inter {
		pool.AddCert(c)
	}
	for _, c := range extra {
		pool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	return err
}

// unparsedCertificates returns the certificate parse error of a PKCS#7
// certificate set, or nil when every entry crypto/x509 could not parse is not
// an X.509 certificate at all. Microsoft's timestamp tokens carry a version 1
// attribute certificate (CertificateChoices [1], with the TSS ESN), which
// crypto/x509 reports as malformed; it plays no part in chain building, so
// it is skipped, while a malformed real certificate is still reported.
func unparsedCertificates(err error) error {
	if err == nil {
		return nil
	}
	var ce pkcs7.CertificateError
	if !errors.As(err, &ce) {
		return err
	}
	for _, raw := range ce.Invalid {
		if len(raw) == 0 || !isOtherCertificateChoice(raw[0]) {
			return err
		}
	}
	return nil
}

// isOtherCertificateChoice reports whether an element of a CMS
// CertificateSet is one of the context-tagged choices (extended, attribute
// or other certificates) rather than a plain X.509 certificate (a SEQUENCE).
func isOtherCertificateChoice(tag byte) bool {
	return tag >= 0xa0 && tag <= 0xa3
}

// chainStatus names a chain error the way code_signature.status does.
func chainStatus(err error) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return StatusUntrustedRoot
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		var ts *timestampError
		if errors.As(err, &ts) {
			return StatusBadTimestamp
		}
		return StatusExpired
	}
	return StatusChaining
}
