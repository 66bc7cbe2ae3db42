package screenconnect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// User is one user of a ScreenConnect user database.
type User struct {
	Name        string
	DisplayName string
	Email       string
	Roles       []string
	IsApproved  string
	IsLockedOut string
	Created     string // as written; "" for the 0001-01-01 sentinel
	LastLogin   string // as written; "" for the never-logged-in sentinel
}

// IsAdmin reports whether one of the user's roles is Administrator.
func (u User) IsAdmin() bool {
	for _, r := range u.Roles {
		if strings.EqualFold(r, "Administrator") || strings.EqualFold(r, "Administrators") {
			return true
		}
	}
	return false
}

// maxXMLDepth bounds element nesting; a user database is four levels deep.
const maxXMLDepth = 64

// ErrDTD is returned for a document with a DOCTYPE: the user database never
// has one, and refusing it rules out entity tricks.
var ErrDTD = errors.New("document type declarations are not allowed")

// userField maps an element or attribute name (lower case, no namespace) to
// the field it fills. The file is XmlSerializer output of the membership
// provider's users; names vary across versions, so several spellings count.
var userField = map[string]string{
	"name": "name", "username": "name", "user_name": "name", "login": "name", "loginname": "name",
	"displayname": "display", "fullname": "display",
	"email": "email", "emailaddress": "email", "mail": "email",
	"creationdate": "created", "createdate": "created", "created": "created", "creationtime": "created", "createddate": "created",
	"lastlogindate": "login", "lastlogin": "login", "lastlogintime": "login", "lastlogondate": "login", "lastlogon": "login",
	"isapproved": "approved", "islockedout": "locked",
	"roles": "roles", "role": "role", "rolenames": "roles",
}

// ParseUsers parses a ScreenConnect user database (App_Data\User.xml). It is
// tolerant of what varies between versions — element or attribute fields,
// namespaces, letter case, a byte order mark, UTF-16 — and strict about what
// would be hostile: DTDs, deep nesting. On a fault it returns the users read
// before it together with the error.
func ParseUsers(data []byte) ([]User, error) {
	data, err := toUTF8(data)
	if err != nil {
		return nil, fmt.Errorf("user database: %w", err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader

	var (
		users    []User
		stack    []string // lower-case local names of open elements
		cur      *User
		curDepth int    // depth of the open user element
		field    string // field the current element's text fills
		fieldAt  int
		text     strings.Builder
		rootSeen bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A user cut short still counts when its name was read.
			if cur != nil && cur.Name != "" {
				users = append(users, *cur)
			}
			return finish(users), fmt.Errorf("user database: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if len(t) >= 7 && strings.EqualFold(string(t[:7]), "DOCTYPE") {
				return nil, fmt.Errorf("user database: %w", ErrDTD)
			}
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			if !rootSeen {
				rootSeen = true
				if !strings.Contains(name, "user") {
					return nil, fmt.Errorf("user database: unexpected root element <%s>", t.Name.Local)
				}
			}
			stack = append(stack, name)
			if len(stack) > maxXMLDepth {
				return finish(users), fmt.Errorf("user database: elements nested deeper than %d", maxXMLDepth)
			}
			depth := len(stack)
			switch {
			case cur == nil && (name == "user" || name == "membershipuser"):
				cur = &User{}
				curDepth = depth
				for _, a := range t.Attr {
					setUserField(cur, strings.ToLower(a.Name.Local), a.Value)
				}
			case cur != nil && depth == curDepth+1:
				field, fieldAt = userField[name], depth
				text.Reset()
				for _, a := range t.Attr {
					// <Role Name="Administrator"/> and the like.
					if field == "role" && strings.EqualFold(a.Name.Local, "name") {
						cur.Roles = append(cur.Roles, strings.TrimSpace(a.Value))
						field = ""
					}
				}
			case cur != nil && depth == curDepth+2 && field == "roles":
				// A child of <Roles>: <Role>, <string>, <RoleName>: its text is a role.
				fieldAt = depth
				text.Reset()
				for _, a := range t.Attr {
					if strings.EqualFold(a.Name.Local, "name") {
						cur.Roles = append(cur.Roles, strings.TrimSpace(a.Value))
					}
				}
			}
		case xml.CharData:
			if cur != nil && fieldAt == len(stack) && text.Len() < 1<<16 {
				text.Write(t)
			}
		case xml.EndElement:
			depth := len(stack)
			if depth == 0 {
				break
			}
			switch {
			case cur != nil && depth == curDepth:
				users = append(users, *cur)
				cur = nil
				field, fieldAt = "", 0
			case cur != nil && depth == curDepth+2 && field == "roles" && fieldAt == depth:
				if v := strings.TrimSpace(text.String()); v != "" {
					cur.Roles = append(cur.Roles, v)
				}
				fieldAt = curDepth + 1
				text.Reset()
			case cur != nil && depth == curDepth+1:
				if field != "" && fieldAt == depth {
					setUserField(cur, stack[depth-1], text.String())
				}
				field, fieldAt = "", 0
				text.Reset()
			}
			stack = stack[:depth-1]
		}
	}
	if !rootSeen {
		return nil, errors.New("user database: no root element")
	}
	return finish(users), nil
}

// setUserField stores a value by its element or attribute name.
func setUserField(u *User, name, value string) {
	v := strings.TrimSpace(value)
	switch userField[name] {
	case "name":
		u.Name = v
	case "display":
		u.DisplayName = v
	case "email":
		u.Email = v
	case "created":
		u.Created = v
	case "login":
		u.LastLogin = v
	case "approved":
		u.IsApproved = v
	case "locked":
		u.IsLockedOut = v
	case "roles", "role":
		// Text of <Roles> without children, or a roles="a,b" attribute.
		for _, r := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ';' || c == '\n' || c == '\r' }) {
			if r = strings.TrimSpace(r); r != "" {
				u.Roles = append(u.Roles, r)
			}
		}
	}
}

// finish clears .NET's DateTime.MinValue, which the membership provider
// writes for "never".
func finish(users []User) []User {
	for i := range users {
		if isMinDate(users[i].LastLogin) {
			users[i].LastLogin = ""
		}
		if isMinDate(users[i].Created) {
			users[i].Created = ""
		}
	}
	return users
}

func isMinDate(s string) bool { return strings.HasPrefix(s, "0001-01-01") }

// toUTF8 strips a UTF-8 byte order mark and decodes UTF-16 (with a mark, or
// recognised by the NUL beside the first '<'), which .NET may write.
func toUTF8(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return b[3:], nil
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return decodeUTF16(b[2:], false)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b[2:], true)
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
		return decodeUTF16(b, false)
	case len(b) >= 2 && b[0] == 0 && b[1] == '<':
		return decodeUTF16(b, true)
	}
	return b, nil
}

func decodeUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errors.New("utf-16 text with an odd number of bytes")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// charsetReader accepts the encodings a user database may declare. The
// bytes were already turned into UTF-8 when they were UTF-16, so a UTF-16
// declaration reads them as they are.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "utf-16", "utf16", "utf-16le", "utf-16be", "unicode", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}
