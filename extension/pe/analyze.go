package pe

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	saferwall "github.com/saferwall/pe"
	pelog "github.com/saferwall/pe/log"
)

// DefaultMaxSize bounds the files Analyze reads. Legitimate Windows
// executables a web shell would spawn are far smaller; bigger files get their
// status set to errorTooLarge and no hashes.
const DefaultMaxSize = 256 << 20

// Options bound and configure one analysis.
type Options struct {
	// MaxSize is the largest file read, in bytes; DefaultMaxSize when zero.
	MaxSize int64
	// Roots is the pool signatures must chain to. Nil means no root is
	// trusted: every signature is at best errorUntrustedRoot.
	Roots *x509.CertPool
	// Now is the time to verify untimestamped signatures at; time.Now when
	// zero.
	Now time.Time
	// Logger receives the parser's diagnostics; discarded when nil. It
	// must never be stdout, which carries osquery's and go-plugin's
	// protocols.
	Logger io.Writer
}

func (o *Options) maxSize() int64 {
	if o == nil || o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// Analyze reads the file at path and returns its identity. It runs the
// parsers in this process: use Isolated for files an attacker may have
// written. A file that is not a PE image still gets its hashes and
// IsPE=false; an error means the file could not be read or the analysis
// was cancelled.
func Analyze(ctx context.Context, path string, opts *Options) (*Identity, error) {
	if opts == nil {
		opts = &Options{}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pe: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pe: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("pe: %s: not a regular file", path)
	}
	id := &Identity{Path: path, Size: st.Size(), ModTime: st.ModTime()}
	if st.Size() > opts.maxSize() {
		id.Signature.Status = StatusTooLarge
		id.Warnings = append(id.Warnings, fmt.Sprintf("file is %d bytes, larger than the %d byte limit", st.Size(), opts.maxSize()))
		return id, nil
	}
	// One read gives a consistent snapshot: the hashes, the version
	// resource and the signature all describe the same bytes even if the
	// file changes meanwhile.
	data, err := readAll(ctx, f, opts.maxSize())
	if err != nil {
		return nil, fmt.Errorf("pe: reading %s: %w", path, err)
	}
	id.Size = int64(len(data))
	if err := analyzeBytes(ctx, data, opts, id); err != nil {
		return nil, err
	}
	return id, nil
}

// AnalyzeBytes is Analyze for a file already in memory; path is only
// recorded.
func AnalyzeBytes(ctx context.Context, path string, data []byte, opts *Options) (*Identity, error) {
	if opts == nil {
		opts = &Options{}
	}
	id := &Identity{Path: path, Size: int64(len(data))}
	if int64(len(data)) > opts.maxSize() {
		id.Signature.Status = StatusTooLarge
		return id, nil
	}
	if err := analyzeBytes(ctx, data, opts, id); err != nil {
		return nil, err
	}
	return id, nil
}

// readAll reads the whole file, at most limit bytes, straight into one
// buffer of the size stat reported; a file that grows meanwhile is read on
// until the limit.
func readAll(ctx context.Context, f *os.File, limit int64) ([]byte, error) {
	size := int64(0)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	buf := make([]byte, 0, min(size, limit)+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):min(cap(buf), len(buf)+8<<20)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("file grew past the %d byte limit", limit)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func analyzeBytes(ctx context.Context, data []byte, opts *Options, id *Identity) error {
	hashBytes(data, id)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pe: %w", err)
	}
	parsePE(ctx, data, opts, id)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pe: %w", err)
	}
	return nil
}

// hashBytes computes the three digests; MD5, the slowest, runs beside the
// other two so a large file costs about half as long on two cores.
func hashBytes(data []byte, id *Identity) {
	var m [md5.Size]byte
	var wg sync.WaitGroup
	if len(data) > 1<<20 {
		wg.Go(func() { m = md5.Sum(data) })
	} else {
		m = md5.Sum(data)
	}
	s1 := sha1.Sum(data)
	s2 := sha256.Sum256(data)
	wg.Wait()
	id.MD5 = hex.EncodeToString(m[:])
	id.SHA1 = hex.EncodeToString(s1[:])
	id.SHA256 = hex.EncodeToString(s2[:])
}

func parsePE(ctx context.Context, data []byte, opts *Options, id *Identity) {
	if len(data) < 2 || data[0] != 'M' || data[1] != 'Z' {
		id.Signature.Status = StatusNotPE
		return
	}
	var logger pelog.Logger = discardLogger{}
	if opts.Logger != nil {
		logger = pelog.NewFilter(pelog.NewStdLogger(opts.Logger), pelog.FilterLevel(pelog.LevelWarn))
	}
	var f *saferwall.File
	var err error
	ok := guard(id, opts, "pe headers", func() {
		f, err = saferwall.NewBytes(data, &saferwall.Options{
			// Its certificate checks shell out to certutil on Windows; we
			// verify with relic below instead.
			DisableCertValidation:      true,
			DisableSignatureValidation: true,
			OmitSecurityDirectory:      true,
			OmitExportDirectory:        true,
			OmitExceptionDirectory:     true,
			OmitRelocDirectory:         true,
			OmitDebugDirectory:         true,
			OmitArchitectureDirectory:  true,
			OmitGlobalPtrDirectory:     true,
			OmitTLSDirectory:           true,
			OmitLoadConfigDirectory:    true,
			OmitBoundImportDirectory:   true,
			OmitIATDirectory:           true,
			OmitDelayImportDirectory:   true,
			OmitCLRHeaderDirectory:     true,
			OmitCLRMetadata:            true,
			MaxCOFFSymbolsCount:        1,
			MaxRelocEntriesCount:       1,
			Logger:                     logger,
		})
		if err == nil {
			err = f.Parse()
		}
	})
	if !ok {
		id.Signature.Status = StatusAnalysisFailed
		return
	}
	if err != nil {
		id.Signature.Status = StatusNotPE
		id.Warnings = append(id.Warnings, "pe: "+err.Error())
		return
	}
	id.IsPE = true
	id.Arch = archName(uint16(f.NtHeader.FileHeader.Machine))
	guard(id, opts, "imphash", func() {
		id.Imphash, _ = imphash(f)
	})
	guard(id, opts, "version resource", func() {
		if err := versionInfo(f, id); err != nil {
			id.Warnings = append(id.Warnings, "version resource: "+err.Error())
		}
	})
	if ctx.Err() != nil {
		return
	}
	if !guard(id, opts, "authenticode", func() { id.Signature = verifyAuthenticode(data, f, opts) }) {
		id.Signature = Signature{Status: StatusAnalysisFailed}
	}
}

// guard runs one stage of the analysis so that a parser bug (a panic on a
// crafted file) costs only that stage: the other fields are still filled.
// Hangs and fatal errors are Isolated's business.
func guard(id *Identity, opts *Options, stage string, fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			id.Warnings = append(id.Warnings, fmt.Sprintf("%s: parser panicked: %v", stage, r))
			if opts.Logger != nil {
				fmt.Fprintf(opts.Logger, "pe: %s: %s parser panic: %v\n%s", id.Path, stage, r, debug.Stack())
			}
		}
	}()
	fn()
	return true
}

// archName maps IMAGE_FILE_HEADER.Machine to the names Elastic uses in
// pe.architecture.
func archName(machine uint16) string {
	switch machine {
	case 0x8664:
		return "x64"
	case 0x14c:
		return "x86"
	case 0xaa64:
		return "arm64"
	case 0x1c0, 0x1c4:
		return "arm"
	case 0x200:
		return "ia64"
	case 0x5064:
		return "riscv64"
	case 0xebc:
		return "ebc"
	case 0:
		return "unknown"
	}
	return fmt.Sprintf("0x%04x", machine)
}

// versionInfo reads every language block of VS_VERSIONINFO. A field is
// taken from the first block that has it, US English first, then other
// English and language-neutral blocks, then the rest in resource order: a
// localized DLL (Wine ships dozens of languages) reports what Explorer on an
// English system shows.
func versionInfo(f *saferwall.File, id *Identity) error {
	blocks, err := f.ParseVersionResourcesForEntries()
	langs := versionLanguages(f)
	order := make([]int, len(blocks))
	for i := range order {
		order[i] = i
	}
	if len(langs) == len(blocks) {
		sort.SliceStable(order, func(a, b int) bool {
			return langRank(langs[order[a]]) < langRank(langs[order[b]])
		})
	}
	pick := func(key string) string {
		for _, i := range order {
			if v := cleanVersionString(blocks[i][key]); v != "" {
				return v
			}
		}
		return ""
	}
	id.OriginalFileName = pick("OriginalFilename")
	id.Company = pick("CompanyName")
	id.Description = pick("FileDescription")
	id.Product = pick("ProductName")
	id.FileVersion = pick("FileVersion")
	return err
}

// versionLanguages lists the language ids of the RT_VERSION resources in the
// order ParseVersionResourcesForEntries returns their blocks.
func versionLanguages(f *saferwall.File) []uint32 {
	var langs []uint32
	for _, e := range f.Resources.Entries {
		if e.ID != saferwall.VersionResourceType || len(e.Directory.Entries) == 0 {
			continue
		}
		for _, l := range e.Directory.Entries[0].Directory.Entries {
			langs = append(langs, l.ID)
		}
	}
	return langs
}

func langRank(lang uint32) int {
	switch {
	case lang == 0x409: // en-US
		return 0
	case lang&0x3ff == 0x09: // any English
		return 1
	case lang&0x3ff == 0: // neutral
		return 2
	}
	return 3
}

func cleanVersionString(v string) string {
	return strings.TrimSpace(strings.TrimRight(v, "\x00\ufffd"))
}

type discardLogger struct{}

func (discardLogger) Log(pelog.Level, ...any) error { return nil }
