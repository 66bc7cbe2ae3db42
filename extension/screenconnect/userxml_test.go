package screenconnect

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	u := utf16.Encode([]rune(s))
	var out []byte
	if bom {
		u = append([]uint16{0xFEFF}, u...)
	}
	for _, c := range u {
		if bigEndian {
			out = append(out, byte(c>>8), byte(c))
		} else {
			out = append(out, byte(c), byte(c>>8))
		}
	}
	return out
}

// describe renders users compactly for comparison.
func describe(users []User) string {
	var parts []string
	for _, u := range users {
		parts = append(parts, strings.Join([]string{u.Name, u.DisplayName, u.Email, strings.Join(u.Roles, "+"),
			u.IsApproved, u.IsLockedOut, u.Created, u.LastLogin}, "|"))
	}
	return strings.Join(parts, " ; ")
}

const standardUsers = `<?xml version="1.0" encoding="utf-8"?>
<Users xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <User>
    <Name>admin</Name><Email>a@example.com</Email><PasswordQuestion /><IsApproved>true</IsApproved>
    <IsLockedOut>false</IsLockedOut><CreationDate>2022-01-01T00:00:00</CreationDate>
    <LastLoginDate>2024-01-01T10:00:00</LastLoginDate><Roles><Role>Administrator</Role></Roles>
  </User>
</Users>`

func TestParseUsers(t *testing.T) {
	const want1 = "admin||a@example.com|Administrator|true|false|2022-01-01T00:00:00|2024-01-01T10:00:00"
	cases := []struct {
		name  string
		input []byte
		want  string
		admin []bool
	}{
		{"elements with namespaces declared", []byte(standardUsers), want1, []bool{true}},
		{"utf-8 byte order mark", append([]byte{0xEF, 0xBB, 0xBF}, standardUsers...), want1, []bool{true}},
		{"utf-16le with mark", utf16Bytes(strings.Replace(standardUsers, "utf-8", "utf-16", 1), false, true), want1, []bool{true}},
		{"utf-16be with mark", utf16Bytes(strings.Replace(standardUsers, "utf-8", "utf-16", 1), true, true), want1, []bool{true}},
		{"utf-16le without mark", utf16Bytes(`<Users><User><Name>x</Name></User></Users>`, false, false), "x|||||||", []bool{false}},
		{"attributes", []byte(`<Users><User Name="bob" Email="b@example.com" CreationDate="2023-05-05T00:00:00" LastLoginDate="0001-01-01T00:00:00" Roles="Technician, Administrator"/></Users>`),
			"bob||b@example.com|Technician+Administrator|||2023-05-05T00:00:00|", []bool{true}},
		{"prefixed elements", []byte(`<sc:Users xmlns:sc="urn:x"><sc:User><sc:Name>p</sc:Name><sc:Roles><sc:Role>administrator</sc:Role></sc:Roles></sc:User></sc:Users>`),
			"p|||administrator||||", []bool{true}},
		{"odd casing", []byte(`<USERS><user><NAME>c</NAME><EMAIL>c@x</EMAIL><roles><ROLE>Admins</ROLE></roles><lastLoginDate>0001-01-01T00:00:00.0000000</lastLoginDate></user></USERS>`),
			"c||c@x|Admins||||", []bool{false}},
		{"roles as strings", []byte(`<Users><User><Name>s</Name><Roles><string>Technician</string><string>Administrator</string></Roles></User></Users>`),
			"s|||Technician+Administrator||||", []bool{true}},
		{"roles as text", []byte(`<Users><User><Name>t</Name><Roles>Technician;Auditor</Roles></User></Users>`),
			"t|||Technician+Auditor||||", []bool{false}},
		{"role elements with name attribute", []byte(`<Users><User><Name>r</Name><Roles><Role Name="Administrator"/></Roles></User></Users>`),
			"r|||Administrator||||", []bool{true}},
		{"role directly under user", []byte(`<Users><User><UserName>d</UserName><DisplayName>Dee</DisplayName><Role>Administrator</Role></User></Users>`),
			"d|Dee||Administrator||||", []bool{true}},
		{"unknown fields and nested content ignored", []byte(`<Users><User><Name>n</Name><Extra><Name>inner</Name></Extra><PasswordHash>abc</PasswordHash></User></Users>`),
			"n|||||||", []bool{false}},
		{"empty database", []byte(`<Users/>`), "", nil},
		{"latin-1 declared", []byte("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><Users><User><Name>Jos\xe9</Name></User></Users>"), "José|||||||", []bool{false}},
		{"single user root", []byte(`<User><Name>solo</Name></User>`), "solo|||||||", []bool{false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, err := ParseUsers(c.input)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := describe(users); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			for i, u := range users {
				if i < len(c.admin) && u.IsAdmin() != c.admin[i] {
					t.Errorf("user %q: got IsAdmin %v, want %v", u.Name, u.IsAdmin(), c.admin[i])
				}
			}
		})
	}
}

func TestParseUsersRejects(t *testing.T) {
	cases := []struct {
		name      string
		input     string
		wantUsers string // users read before the fault
		wantErr   string
	}{
		{"doctype", `<?xml version="1.0"?><!DOCTYPE Users [<!ENTITY x "boom">]><Users><User><Name>&x;</Name></User></Users>`, "", "document type declarations are not allowed"},
		{"undefined entity", `<Users><User><Name>&x;</Name></User></Users>`, "", "invalid character entity"},
		{"truncated after one user", `<Users><User><Name>a</Name></User><User><Name>b`, "a|||||||", "unexpected EOF"},
		{"wrong root", `<configuration><appSettings/></configuration>`, "", "unexpected root element <configuration>"},
		{"not xml", `this is not xml`, "", "no root element"},
		{"unknown encoding", `<?xml version="1.0" encoding="ebcdic"?><Users/>`, "", "unsupported encoding"},
		{"too deep", "<Users>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</Users>", "", "nested deeper"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, err := ParseUsers([]byte(c.input))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
			}
			if got := describe(users); got != c.wantUsers {
				t.Errorf("users before the fault: got %q, want %q", got, c.wantUsers)
			}
		})
	}
	if _, err := ParseUsers([]byte(`<!DOCTYPE Users><Users/>`)); !errors.Is(err, ErrDTD) {
		t.Errorf("got %v, want ErrDTD", err)
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte(standardUsers))
	f.Add([]byte(`<Users><User Name="a" Roles="Administrator"/></Users>`))
	f.Add(utf16Bytes(standardUsers, false, true))
	f.Add([]byte(`<!DOCTYPE x><Users/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := ParseUsers(data)
		again, err2 := ParseUsers(data)
		if describe(users) != describe(again) || (err == nil) != (err2 == nil) {
			t.Fatalf("two parses of the same input differ: %q/%v vs %q/%v", describe(users), err, describe(again), err2)
		}
		for _, u := range users {
			if strings.HasPrefix(u.LastLogin, "0001-01-01") || strings.HasPrefix(u.Created, "0001-01-01") {
				t.Fatalf("user %q kept the never sentinel", u.Name)
			}
			for _, r := range u.Roles {
				if r == "" || strings.TrimSpace(r) != r {
					t.Fatalf("user %q has an untrimmed or empty role %q", u.Name, r)
				}
			}
		}
	})
}
