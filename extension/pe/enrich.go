package pe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"scsweep/extension/events"
)

// Analyzer computes a file's identity; Isolated is the one to use for files
// an attacker may have written.
type Analyzer interface {
	Analyze(ctx context.Context, path string) (*Identity, error)
}

// AnalyzerFunc adapts a function to Analyzer.
type AnalyzerFunc func(ctx context.Context, path string) (*Identity, error)

// Analyze implements Analyzer.
func (f AnalyzerFunc) Analyze(ctx context.Context, path string) (*Identity, error) {
	return f(ctx, path)
}

// InProcess analyzes in this process with opts: for tools and trusted input.
func InProcess(opts *Options) Analyzer {
	return AnalyzerFunc(func(ctx context.Context, path string) (*Identity, error) {
		return Analyze(ctx, path, opts)
	})
}

// DefaultCacheSize is how many files the Enricher remembers. A Windows
// server runs a few hundred distinct executables.
const DefaultCacheSize = 4096

// ErrFileChanged says the file at an event's path is not the one the event
// describes: the hashes the record carries differ from the file's.
var ErrFileChanged = errors.New("pe: file differs from the one the event reports")

// Enricher fills process start events with the identity of their image file.
// Identities are cached by path and checked against the file's size,
// modification time and file id (inode, or volume serial and file index on
// Windows) on every use, so a replaced file is analyzed again.
type Enricher struct {
	analyzer Analyzer
	cache    *lru.Cache[string, *cacheEntry]
	hits     atomic.Int64
	misses   atomic.Int64
}

type fileKey struct {
	size  int64
	mtime int64 // ns
	id    fileID
}

type cacheEntry struct {
	key fileKey
	id  *Identity
	err error // a worker failure on this exact file, so it is not retried
}

// NewEnricher returns an Enricher over a remembering up to size files
// (DefaultCacheSize when size <= 0).
func NewEnricher(a Analyzer, size int) *Enricher {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c, err := lru.New[string, *cacheEntry](size)
	if err != nil {
		panic(err) // only for size <= 0, excluded above
	}
	return &Enricher{analyzer: a, cache: c}
}

// CacheStats says how often Identify was answered from the cache.
func (e *Enricher) CacheStats() (hits, misses int64) {
	return e.hits.Load(), e.misses.Load()
}

// Identify returns the identity of the file at path, from the cache when the
// file has not changed. A file that made the worker fail keeps failing with
// the same error until it changes, so one malicious file cannot kill the
// worker over and over.
func (e *Enricher) Identify(ctx context.Context, path string) (*Identity, error) {
	key, err := statKey(path)
	if err != nil {
		return nil, err
	}
	if ent, ok := e.cache.Get(path); ok && ent.key == key {
		e.hits.Add(1)
		return ent.id, ent.err
	}
	e.misses.Add(1)
	id, err := e.analyzer.Analyze(ctx, path)
	if err != nil {
		if errors.Is(err, ErrWorker) && ctx.Err() == nil {
			e.cache.Add(path, &cacheEntry{key: key, err: err})
		}
		return nil, err
	}
	// Cache only what describes the file as it still is.
	if after, err := statKey(path); err == nil && after == key && id.Size == key.size {
		e.cache.Add(path, &cacheEntry{key: key, id: id})
	}
	return id, nil
}

func statKey(path string) (fileKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileKey{}, fmt.Errorf("pe: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fileKey{}, fmt.Errorf("pe: %s: not a regular file", path)
	}
	id, err := fileIDOf(path, st)
	if err != nil {
		return fileKey{}, fmt.Errorf("pe: %w", err)
	}
	return fileKey{size: st.Size(), mtime: st.ModTime().UnixNano(), id: id}, nil
}

// Enrich fills ev's PE, hash and signature fields from the file at ev.Path
// when that file exists on this host. Only empty fields are filled: what the
// record carries (Sysmon's Hashes and OriginalFileName) wins. When the
// record carries a hash that the file does not have, the file is not the one
// that ran and nothing is filled (ErrFileChanged). A missing file is not an
// error: events imported from other hosts name paths that are not here.
func (e *Enricher) Enrich(ctx context.Context, ev *events.Event) error {
	if ev == nil || ev.Path == "" || !needsIdentity(ev) {
		return nil
	}
	id, err := e.Identify(ctx, ev.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil
		}
		return err
	}
	return Apply(ev, id)
}

func needsIdentity(ev *events.Event) bool {
	return ev.SHA256 == "" || ev.SHA1 == "" || ev.MD5 == "" || ev.PEImphash == "" ||
		ev.PEOriginalFileName == "" || ev.SignatureStatus == "" || ev.PEArch == ""
}

// Apply fills ev's empty identity fields from id; see Enrich.
func Apply(ev *events.Event, id *Identity) error {
	if id == nil {
		return nil
	}
	for _, h := range []struct{ have, file string }{
		{ev.MD5, id.MD5}, {ev.SHA1, id.SHA1}, {ev.SHA256, id.SHA256}, {ev.PEImphash, id.Imphash},
	} {
		if h.have != "" && h.file != "" && !strings.EqualFold(h.have, h.file) {
			return fmt.Errorf("%w: %s", ErrFileChanged, ev.Path)
		}
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&ev.MD5, id.MD5)
	fill(&ev.SHA1, id.SHA1)
	fill(&ev.SHA256, id.SHA256)
	if !id.IsPE {
		return nil
	}
	fill(&ev.PEOriginalFileName, id.OriginalFileName)
	fill(&ev.PECompany, id.Company)
	fill(&ev.PEDescription, id.Description)
	fill(&ev.PEProduct, id.Product)
	fill(&ev.PEFileVersion, id.FileVersion)
	fill(&ev.PEImphash, id.Imphash)
	fill(&ev.PEArch, id.Arch)
	// The signature fields describe one verification; they are taken
	// together or not at all.
	if ev.SignatureStatus == "" && ev.SignatureSubject == "" && ev.SignatureIssuer == "" && ev.SignatureTrusted == nil {
		s := id.Signature
		ev.SignatureStatus = s.Status
		ev.SignatureSubject = s.Subject
		ev.SignatureIssuer = s.Issuer
		trusted := s.Trusted
		ev.SignatureTrusted = &trusted
	}
	return nil
}
