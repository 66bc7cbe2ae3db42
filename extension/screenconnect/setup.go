package screenconnect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SetupFiles returns one row of screenconnect_setup_files per file under
// each Temp\ScreenConnect folder: the system one and those of drive-image
// roots. The setup wizard writes a temporary user database there, so after
// CVE-2024-1709 exploitation a file names the attacker's administrator;
// legitimate user changes write one too, hence rows, not verdicts.
func SetupFiles(ctx context.Context, opts Options) ([]map[string]string, error) {
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	f := discover(ctx, o)
	var rows []map[string]string
	done := map[string]bool{}
	for _, d := range f.tempDirs {
		if done[pathKey(d)] || !isDir(d) {
			continue
		}
		done[pathKey(d)] = true
		w := &setupWalk{ctx: ctx, o: o, base: d}
		if err := w.dir(d, "", 0); err != nil {
			rows = append(rows, w.rows...)
			row := newSetupRow(d, "")
			row["error"] = "walk stopped: " + err.Error()
			rows = append(rows, row)
			continue
		}
		rows = append(rows, w.rows...)
	}
	return rows, nil
}

type setupWalk struct {
	ctx   context.Context
	o     Options
	base  string
	files int
	rows  []map[string]string
}

func newSetupRow(p, version string) map[string]string {
	return map[string]string{"path": p, "version": version, "size": "", "mtime": "", "sha256": "", "users": "", "admins": "", "error": ""}
}

func (w *setupWalk) dir(abs, rel string, depth int) (stop error) {
	if depth > w.o.MaxDepth {
		return fmt.Errorf("folder depth over %d", w.o.MaxDepth)
	}
	ents, more, err := readDirBounded(abs, w.o.MaxFiles)
	if err != nil {
		row := newSetupRow(abs, topFolder(rel+"/"))
		row["error"] = fmt.Sprintf("read folder: %v", err)
		w.rows = append(w.rows, row)
		return nil
	}
	if more {
		defer func() {
			if stop != nil {
				return
			}
			row := newSetupRow(abs, topFolder(rel+"/"))
			row["error"] = fmt.Sprintf("folder has more than %d entries, the rest not read", w.o.MaxFiles)
			w.rows = append(w.rows, row)
		}()
	}
	for _, e := range ents {
		if err := w.ctx.Err(); err != nil {
			return fmt.Errorf("time limit reached: %w", err)
		}
		childAbs := filepath.Join(abs, e.Name())
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		mode := info.Mode()
		if mode.IsDir() && mode&(os.ModeSymlink|os.ModeIrregular) == 0 && !isReparse(childAbs) {
			if err := w.dir(childAbs, childRel, depth+1); err != nil {
				return err
			}
			continue
		}
		if w.files >= w.o.MaxFiles {
			return fmt.Errorf("more than %d files", w.o.MaxFiles)
		}
		w.files++
		row := newSetupRow(childAbs, topFolder(childRel))
		row["mtime"] = unixString(info.ModTime())
		if !mode.IsRegular() {
			row["error"] = "not a regular file, not followed: " + typeName(mode)
			w.rows = append(w.rows, row)
			continue
		}
		row["size"] = strconv.FormatInt(info.Size(), 10)
		if strings.EqualFold(filepath.Ext(e.Name()), ".xml") {
			w.xml(childAbs, row)
		} else if sum, err := hashFile(childAbs, w.o.MaxHashSize, nil); err != nil {
			row["error"] = err.Error()
		} else {
			row["sha256"] = sum
		}
		w.rows = append(w.rows, row)
	}
	return nil
}

func (w *setupWalk) xml(p string, row map[string]string) {
	data, _, err := readBounded(p, w.o.MaxXMLSize)
	if err != nil {
		row["error"] = err.Error()
		if sum, herr := hashFile(p, w.o.MaxHashSize, nil); herr == nil {
			row["sha256"] = sum
		}
		return
	}
	row["sha256"] = sha256Hex(data)
	users, err := ParseUsers(data)
	var names, admins []string
	for _, u := range users {
		names = append(names, u.Name)
		if u.IsAdmin() {
			admins = append(admins, u.Name)
		}
	}
	row["users"] = strings.Join(names, ",")
	row["admins"] = strings.Join(admins, ",")
	if err != nil {
		row["error"] = err.Error()
	}
}
