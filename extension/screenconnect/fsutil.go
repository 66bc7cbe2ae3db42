package screenconnect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// findChild returns the entry of dir whose name equals name ignoring case,
// as Windows would resolve it, or "" when there is none. An exact match wins
// over a case-folded one so a tree on a case-sensitive disk stays readable.
func findChild(dir, name string) string {
	if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
		return filepath.Join(dir, name)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if strings.EqualFold(e.Name(), name) {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

// findPath resolves a relative path one component at a time with findChild.
func findPath(dir string, elems ...string) string {
	for _, e := range elems {
		dir = findChild(dir, e)
		if dir == "" {
			return ""
		}
	}
	return dir
}

// isDir reports whether p is a directory that is not a link.
func isDir(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir() && st.Mode()&(os.ModeSymlink|os.ModeIrregular) == 0
}

// samePath compares two paths as Windows does: cleaned and case-insensitive.
func samePath(a, b string) bool {
	return strings.EqualFold(filepath.Clean(a), filepath.Clean(b))
}

// pathKey is the case-folded form used to dedupe paths.
func pathKey(p string) string { return strings.ToLower(filepath.Clean(p)) }

// hashFile returns the hex SHA-256 of a regular file no larger than limit;
// it returns "" without error for larger files. buf is the copy buffer, so
// a walk hashing thousands of files allocates it once.
func hashFile(p string, limit int64, buf []byte) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	if !st.Mode().IsRegular() || st.Size() > limit {
		return "", nil
	}
	h := sha256.New()
	if buf == nil {
		buf = make([]byte, 32<<10)
	}
	if _, err := io.CopyBuffer(h, io.LimitReader(f, limit+1), buf); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func unixString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// joinErr joins non-empty messages with "; ".
func joinErr(msgs ...string) string {
	var out []string
	for _, m := range msgs {
		if m != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, "; ")
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// typeName names a non-regular file type for an error column.
func typeName(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "junction or mount point"
	}
	return "irregular file"
}

// readDirBounded lists at most limit+1 entries of a folder, sorted by name,
// and says whether it holds more than limit: a folder of millions of entries
// must not be read into memory whole. The extra entry lets a walk's file
// count trip its own bound; which entries a folder over the bound yields is
// up to the filesystem.
func readDirBounded(dir string, limit int) ([]os.DirEntry, bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	ents, err := f.ReadDir(limit + 1)
	if err != nil && err != io.EOF {
		return nil, false, err
	}
	more := len(ents) > limit
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, more, nil
}
