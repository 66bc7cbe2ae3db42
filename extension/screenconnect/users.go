package screenconnect

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// userFiles are the user databases a server keeps in App_Data.
var userFiles = []string{"User.xml", "Users.xml"}

// Users returns one row of screenconnect_users per user of each server's
// user database. A file that cannot be read or parsed gives a row with the
// error (after the users read before the fault), never silence. With a nil
// firstSeen the first_seen column is empty.
func Users(ctx context.Context, opts Options, firstSeen *FirstSeen) ([]map[string]string, error) {
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	f := discover(ctx, o)
	var rows []map[string]string
	for _, in := range f.installs {
		if in.role != "server" {
			continue
		}
		appData := findChild(in.root, "App_Data")
		if appData == "" {
			continue
		}
		seen := map[string]bool{}
		for _, name := range userFiles {
			p := findChild(appData, name)
			if p == "" || seen[pathKey(p)] {
				continue
			}
			seen[pathKey(p)] = true
			if err := ctx.Err(); err != nil {
				return rows, err
			}
			r, err := userRows(ctx, o, in.root, p, firstSeen)
			rows = append(rows, r...)
			if err != nil {
				return rows, err
			}
		}
	}
	return rows, nil
}

func newUserRow(root, path string) map[string]string {
	return map[string]string{
		"root": root, "path": path, "name": "", "display_name": "", "email": "", "roles": "",
		"is_admin": "", "is_approved": "", "is_locked_out": "", "created": "", "last_login": "",
		"file_mtime": "", "file_sha256": "", "first_seen": "", "error": "",
	}
}

// userRows reads one user database. Only a failing store is returned as an
// error; faults of the file itself become a row.
func userRows(ctx context.Context, o Options, root, path string, fs *FirstSeen) ([]map[string]string, error) {
	base := newUserRow(root, path)
	data, mtime, err := readBounded(path, o.MaxXMLSize)
	base["file_mtime"] = mtime
	if err != nil {
		base["error"] = err.Error()
		return []map[string]string{base}, nil
	}
	base["file_sha256"] = sha256Hex(data)
	users, perr := ParseUsers(data)
	var first map[string]string
	if fs != nil && len(users) > 0 {
		names := make([]string, 0, len(users))
		for _, u := range users {
			names = append(names, u.Name)
		}
		t, err := fs.Record(ctx, root, names)
		if err != nil {
			return nil, err
		}
		first = make(map[string]string, len(t))
		for n, ts := range t {
			first[n] = unixString(ts)
		}
	}
	rows := make([]map[string]string, 0, len(users)+1)
	for _, u := range users {
		row := make(map[string]string, len(base))
		for k, v := range base {
			row[k] = v
		}
		row["name"] = u.Name
		row["display_name"] = u.DisplayName
		row["email"] = u.Email
		row["roles"] = strings.Join(u.Roles, ",")
		row["is_admin"] = boolString(u.IsAdmin())
		row["is_approved"] = u.IsApproved
		row["is_locked_out"] = u.IsLockedOut
		row["created"] = u.Created
		row["last_login"] = u.LastLogin
		row["first_seen"] = first[u.Name]
		rows = append(rows, row)
	}
	if perr != nil {
		base["error"] = perr.Error()
		rows = append(rows, base)
	}
	return rows, nil
}

// readBounded reads a regular file of at most limit bytes and returns its
// modification time as unix seconds.
func readBounded(path string, limit int64) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	mtime := unixString(st.ModTime())
	if !st.Mode().IsRegular() {
		return nil, mtime, fmt.Errorf("read %s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, mtime, fmt.Errorf("read %s: %d bytes is over the %d byte limit", path, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, mtime, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, mtime, fmt.Errorf("read %s: over the %d byte limit", path, limit)
	}
	return data, mtime, nil
}
