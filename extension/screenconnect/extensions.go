package screenconnect

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Suspicion reasons, as the suspicion column spells them.
const (
	ReasonLooseASPNet    = "loose aspnet file in App_Extensions root"
	ReasonOutsideGUID    = "aspnet file outside a GUID folder"
	ReasonNoManifest     = "extension folder without manifest"
	ReasonZipClimbs      = "archive with entries that climb out of their folder"
	ReasonZipEntryClimbs = "zip entry climbs out of its folder"
	ReasonLinkOutside    = "link points outside App_Extensions"
	ReasonNotInManifest  = "aspnet file not named by its extension manifest"
	ReasonCutShort       = "scan cut short"
)

// aspnetExts are the extensions ASP.NET serves or compiles.
var aspnetExts = map[string]bool{
	".aspx": true, ".ashx": true, ".asmx": true, ".ascx": true, ".asax": true, ".cshtml": true, ".config": true,
}

var guidRE = regexp.MustCompile(`^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$`)

// IsGUID reports whether a folder name is a GUID, as ScreenConnect names
// the folder of each installed extension.
func IsGUID(name string) bool { return guidRE.MatchString(name) }

// IsASPNet reports whether a file name has an ASP.NET extension, in any case.
func IsASPNet(name string) bool {
	return aspnetExts[strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/")))]
}

// Extensions returns one row of screenconnect_extensions per file under
// each server's App_Extensions, per link (reported, not followed), per zip
// entry that climbs out of its folder, and a row of kind incomplete when a
// walk stopped at a bound.
func Extensions(ctx context.Context, opts Options) ([]map[string]string, error) {
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	f := discover(ctx, o)
	var rows []map[string]string
	for _, in := range f.installs {
		if in.role != "server" {
			continue
		}
		dir := findChild(in.root, "App_Extensions")
		if dir == "" {
			continue
		}
		w := &extWalk{ctx: ctx, o: o, root: in.root, base: dir, manifests: map[string]*manifestState{}, buf: make([]byte, 64<<10)}
		if !isDir(dir) {
			// App_Extensions itself a link or junction: say so, do not enter.
			if info, err := os.Lstat(dir); err == nil {
				w.link(dir, "", info)
				w.rows[len(w.rows)-1]["suspicion"] = joinErr(w.rows[len(w.rows)-1]["suspicion"], "App_Extensions is not a plain folder")
			}
			rows = append(rows, w.rows...)
			continue
		}
		w.walk()
		rows = append(rows, w.rows...)
	}
	return rows, nil
}

type extWalk struct {
	ctx       context.Context
	o         Options
	root      string // install folder
	base      string // App_Extensions
	files     int
	rows      []map[string]string
	manifests map[string]*manifestState // top-level folder (lower case) → its manifest
	buf       []byte                    // hashing buffer, shared by the walk
}

func (w *extWalk) walk() {
	err := w.dir(w.base, "", 0)
	if err == nil {
		return
	}
	w.incomplete(w.base, "", "walk stopped: "+w.stopReason(err))
}

// incomplete adds a row saying part of the tree was not read, and why.
func (w *extWalk) incomplete(abs, rel, why string) {
	row := w.newRow(abs, rel)
	row["kind"] = "incomplete"
	row["aspnet"] = "0"
	row["suspicion"] = ReasonCutShort
	row["error"] = why
	w.rows = append(w.rows, row)
}

func (w *extWalk) stopReason(err error) string {
	if ctxErr := w.ctx.Err(); ctxErr != nil {
		return "time limit reached (" + ctxErr.Error() + ")"
	}
	var m stopError
	if errors.As(err, &m) {
		return string(m)
	}
	return err.Error()
}

type stopError string

func (e stopError) Error() string { return string(e) }

// dir walks one folder; rel is its path under App_Extensions with slashes.
func (w *extWalk) dir(abs, rel string, depth int) (stop error) {
	if depth > w.o.MaxDepth {
		// Too deep: skip this subtree, say so, and walk on, so a deep decoy
		// cannot hide the files that come after it.
		w.incomplete(abs, rel, fmt.Sprintf("folder depth over %d, not entered", w.o.MaxDepth))
		return nil
	}
	ents, more, err := readDirBounded(abs, w.o.MaxFiles)
	if err != nil {
		row := w.newRow(abs, rel)
		row["kind"] = "dir"
		row["error"] = fmt.Sprintf("read folder: %v", err)
		w.rows = append(w.rows, row)
		return nil
	}
	if more {
		defer func() {
			if stop == nil {
				w.incomplete(abs, rel, fmt.Sprintf("folder has more than %d entries, the rest not read", w.o.MaxFiles))
			}
		}()
	}
	for _, e := range ents {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		childAbs := filepath.Join(abs, e.Name())
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		info, err := e.Info()
		if err != nil {
			row := w.newRow(childAbs, childRel)
			row["error"] = fmt.Sprintf("stat: %v", err)
			w.rows = append(w.rows, row)
			continue
		}
		mode := info.Mode()
		switch {
		case mode&os.ModeSymlink != 0 || (mode.IsDir() && (mode&os.ModeIrregular != 0 || isReparse(childAbs))):
			// Symbolic links and junctions: reported, never followed.
			if err := w.count(); err != nil {
				return err
			}
			w.link(childAbs, childRel, info)
		case mode.IsDir():
			if err := w.dir(childAbs, childRel, depth+1); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := w.count(); err != nil {
				return err
			}
			w.file(childAbs, childRel, info)
		default:
			// Pipes, sockets, devices: opening one could block, so only report it.
			if err := w.count(); err != nil {
				return err
			}
			row := w.newRow(childAbs, childRel)
			row["kind"] = "special"
			row["mtime"] = unixString(info.ModTime())
			row["suspicion"] = strings.Join(w.placementReasons(childRel), "; ")
			row["error"] = "not a regular file: " + typeName(mode)
			w.rows = append(w.rows, row)
		}
	}
	return nil
}

func (w *extWalk) count() error {
	if w.files >= w.o.MaxFiles {
		return stopError(fmt.Sprintf("more than %d files", w.o.MaxFiles))
	}
	w.files++
	return nil
}

// topFolder is the first component of rel when rel is inside a folder.
func topFolder(rel string) string {
	if i := strings.IndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// manifestState is what a walk learned of one extension folder's manifest.
type manifestState struct {
	path string // "" when the folder has none
	m    Manifest
	err  error
}

// manifest reads the Manifest.xml of a top-level folder once per walk.
func (w *extWalk) manifest(top string) *manifestState {
	k := strings.ToLower(top)
	if st, ok := w.manifests[k]; ok {
		return st
	}
	st := &manifestState{path: findChild(filepath.Join(w.base, top), "Manifest.xml")}
	if st.path != "" {
		data, _, err := readBounded(st.path, w.o.MaxXMLSize)
		if err == nil {
			st.m, err = ParseManifest(data)
		}
		st.err = err
	}
	w.manifests[k] = st
	return st
}

func (w *extWalk) hasManifest(top string) bool { return w.manifest(top).path != "" }

func (w *extWalk) newRow(abs, rel string) map[string]string {
	top := topFolder(rel)
	row := map[string]string{
		"root": w.root, "path": abs, "relative_path": rel, "kind": "file", "archive": "",
		"extension_folder": top, "extension_name": "", "guid_scoped": boolString(top != "" && IsGUID(top)),
		"aspnet": boolString(IsASPNet(rel)), "has_manifest": "0",
		"size": "", "mtime": "", "sha256": "", "link_target": "", "suspicion": "", "error": "",
	}
	if top != "" {
		if st := w.manifest(top); st.path != "" {
			row["has_manifest"] = "1"
			row["extension_name"] = st.m.Name
			if samePath(st.path, abs) && st.err != nil {
				row["error"] = st.err.Error()
			}
		}
	}
	return row
}

// placementReasons says what is wrong with where a file of that name sits.
func (w *extWalk) placementReasons(rel string) []string {
	var why []string
	top := topFolder(rel)
	aspnet := IsASPNet(rel)
	switch {
	case top == "" && aspnet:
		why = append(why, ReasonLooseASPNet)
	case top != "" && aspnet && !IsGUID(top):
		why = append(why, ReasonOutsideGUID)
	}
	if top != "" && !w.hasManifest(top) {
		why = append(why, ReasonNoManifest)
	}
	// A page dropped into an installed extension's folder hides among its
	// files; the manifest names the handlers the extension really has.
	// Web.config is never named, so it is left out.
	if top != "" && aspnet && IsGUID(top) && !strings.EqualFold(path.Ext(rel), ".config") {
		if st := w.manifest(top); st.path != "" && st.err == nil && !st.m.Names(rel[len(top)+1:]) {
			why = append(why, ReasonNotInManifest)
		}
	}
	return why
}

func (w *extWalk) file(abs, rel string, info os.FileInfo) {
	row := w.newRow(abs, rel)
	row["size"] = strconv.FormatInt(info.Size(), 10)
	row["mtime"] = unixString(info.ModTime())
	why := w.placementReasons(rel)
	var errs []string
	if row["error"] != "" {
		errs = append(errs, row["error"])
	}
	if sum, err := hashFile(abs, w.o.MaxHashSize, w.buf); err != nil {
		errs = append(errs, err.Error())
	} else {
		row["sha256"] = sum
	}
	var entries []map[string]string
	if strings.EqualFold(path.Ext(rel), ".zip") {
		var err error
		entries, err = w.zipEntries(abs, rel)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if len(entries) > 0 {
			why = append(why, ReasonZipClimbs)
		}
	}
	row["suspicion"] = strings.Join(why, "; ")
	row["error"] = strings.Join(errs, "; ")
	w.rows = append(w.rows, row)
	w.rows = append(w.rows, entries...)
}

// zipEntries reads an archive's directory, never its content, and returns
// rows for the entries whose names climb out of their folder.
func (w *extWalk) zipEntries(abs, rel string) ([]map[string]string, error) {
	if st, err := os.Stat(abs); err == nil && st.Size() > w.o.MaxHashSize {
		return nil, fmt.Errorf("zip: %d bytes is over the %d byte limit, entries not read", st.Size(), w.o.MaxHashSize)
	}
	zr, err := zip.OpenReader(abs)
	if err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	defer zr.Close()
	var rows []map[string]string
	var cutErr error
	for i, ze := range zr.File {
		if i >= w.o.MaxZipEntries {
			cutErr = fmt.Errorf("zip: only the first %d of %d entries read", w.o.MaxZipEntries, len(zr.File))
			break
		}
		if !ClimbsOut(ze.Name) {
			continue
		}
		row := w.newRow(abs, rel)
		row["kind"] = "zip_entry"
		row["archive"] = rel
		row["relative_path"] = ze.Name
		row["aspnet"] = boolString(IsASPNet(ze.Name))
		row["size"] = strconv.FormatUint(ze.UncompressedSize64, 10)
		if !ze.Modified.IsZero() {
			row["mtime"] = unixString(ze.Modified)
		}
		row["suspicion"] = ReasonZipEntryClimbs
		rows = append(rows, row)
	}
	return rows, cutErr
}

func (w *extWalk) link(abs, rel string, info os.FileInfo) {
	row := w.newRow(abs, rel)
	row["kind"] = "symlink"
	row["mtime"] = unixString(info.ModTime())
	why := w.placementReasons(rel)
	target, err := os.Readlink(abs)
	if err != nil {
		row["error"] = fmt.Sprintf("readlink: %v", err)
	} else {
		row["link_target"] = target
		t := target
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(abs), t)
		}
		if !within(w.base, t) {
			why = append(why, ReasonLinkOutside)
		}
	}
	row["suspicion"] = strings.Join(why, "; ")
	w.rows = append(w.rows, row)
}

// within reports whether p is base or below it, comparing as Windows does.
func within(base, p string) bool {
	b := strings.ToLower(filepath.Clean(base))
	q := strings.ToLower(filepath.Clean(p))
	return q == b || strings.HasPrefix(q, b+string(filepath.Separator))
}
